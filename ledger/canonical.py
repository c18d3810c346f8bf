"""The bytes that are hashed, and RFC 6962 Merkle-tree hashing.

Canonical serialization, version 1 (`hash_version = 1`) of a ledger transaction: UTF-8 JSON with
sorted keys, no whitespace, of
    {"v": 1, "id", "kind", "key", "created_at" (UTC, ISO 8601 with microseconds), "ref": [type, id],
     "actor": [user id | null, organization id | null], "memo", "postings": [[id, account, asset,
     bucket, amount], ... ordered by id]}
Amounts are integers; no float can appear: `memo` is the JSON object as stored, decoded with any
non-integer number kept as its decimal text (a string), so the bytes do not depend on the database
driver's JSON rendering or on binary floating point. Changing anything here means a new version number.

Merkle log (RFC 6962 §2.1): leaf hash = SHA-256(0x00 ‖ bytes), node = SHA-256(0x01 ‖ left ‖ right);
the tree over n leaves splits at the largest power of two below n.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

HASH_VERSION = 1


def _utc(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def memo_value(raw):
    """The memo as hashed: Django's psycopg2 backend hands jsonb over as text; decode it (idempotent)."""
    if isinstance(raw, (str, bytes, bytearray)):
        return json.loads(raw, parse_float=str)
    return raw


def transaction_bytes(*, id, kind, key, created_at, reference_type, reference_id, actor_user_id,
                      actor_organization_id, memo, postings) -> bytes:
    doc = {
        "v": HASH_VERSION,
        "id": id,
        "kind": kind,
        "key": key,
        "created_at": _utc(created_at),
        "ref": [reference_type, reference_id],
        "actor": [actor_user_id, actor_organization_id],
        "memo": memo_value(memo),
        "postings": [list(p) for p in sorted(postings)],
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def largest_power_of_two_below(n: int) -> int:
    """k = 2^i with k < n <= 2k (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def edge_root(edge: list[tuple[int, bytes]]) -> bytes:
    """The RFC 6962 root of a tree given the roots of the perfect subtrees along its right edge
    ((height, hash), heights decreasing), folded from the right."""
    if not edge:
        return EMPTY_ROOT
    acc = edge[-1][1]
    for _, left in reversed(edge[:-1]):
        acc = node_hash(left, acc)
    return acc


class CompactRange:
    """Streaming Merkle root: push leaf hashes one at a time, read the RFC 6962 root of everything pushed
    so far in O(log n) memory (the roots of the perfect subtrees along the right edge)."""

    def __init__(self):
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (height, hash), heights strictly decreasing

    def push(self, h: bytes) -> None:
        height = 0
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            h = node_hash(left, h)
            height += 1
        self._stack.append((height, h))
        self.size += 1

    def root(self) -> bytes:
        return edge_root(self._stack)


def checkpoint_body(*, tree_size: int, root_hash: bytes, previous_hash: bytes, xid_horizon: int,
                    created_at: datetime) -> bytes:
    return json.dumps({
        "v": HASH_VERSION, "tree_size": tree_size, "root": root_hash.hex(), "previous": previous_hash.hex(),
        "xid_horizon": xid_horizon, "created_at": _utc(created_at),
    }, sort_keys=True, separators=(",", ":")).encode()


def checkpoint_hash(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def legacy_hmac_sign(body: bytes, key: str) -> str:
    """The HMAC-SHA256 signature of checkpoints written before Ed25519 (ledger.keys); verification only."""
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def legacy_hmac_valid(body: bytes, key: str, signature: str) -> bool:
    return hmac.compare_digest(legacy_hmac_sign(body, key), signature)
