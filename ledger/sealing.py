"""Tamper evidence by sealing after commit (DESIGN option 2).

Writers never coordinate: each ledger transaction just records its database transaction id (`xid`).
`seal()` (Celery beat, every LEDGER_SEAL_INTERVAL_SECONDS) reads the snapshot horizon
`pg_snapshot_xmin(pg_current_snapshot())` — every xid below it has committed or aborted, so the set of
ledger transactions below it can never change — and appends those not yet sealed (xid in
[previous horizon, horizon)) in (xid, id) order as leaves of an RFC 6962 Merkle log, storing the roots
of completed perfect subtrees so that any proof needs O(log n) lookups. It then writes a checkpoint
(tree size, root, previous checkpoint's hash) signed with HMAC-SHA256 under LEDGER_SIGNING_KEY.

Cost: writers pay nothing (no shared lock, no extra statement); a transaction is provable once the
next seal runs (a few seconds); the sealer is one process at a time (advisory lock) and hashes each
transaction once. A long-running transaction holds the horizon back, delaying (never skipping) sealing.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .canonical import (EMPTY_ROOT, CompactRange, checkpoint_body, checkpoint_hash, largest_power_of_two_below,
                        leaf_hash, node_hash, sign, transaction_bytes)
from .models import Checkpoint, MerkleLeaf, MerkleNode

SEAL_LOCK = 0x5EA1ED
TRANSACTION_COLUMNS = """t.id, t.kind, t.idempotency_key, t.created_at, t.reference_type, t.reference_id,
    t.actor_user_id, t.actor_organization_id, t.memo,
    (SELECT coalesce(json_agg(json_build_array(p.id, p.account_id, p.asset_id, p.bucket, p.amount) ORDER BY p.id),
                     '[]'::json)
       FROM ledger_posting p WHERE p.transaction_id = t.id)"""


def row_bytes(row) -> bytes:
    """Canonical bytes of a transaction row selected with TRANSACTION_COLUMNS."""
    (tid, kind, key, created_at, ref_type, ref_id, actor_user, actor_org, memo, postings) = row
    return transaction_bytes(id=tid, kind=kind, key=key, created_at=created_at, reference_type=ref_type,
                             reference_id=ref_id, actor_user_id=actor_user, actor_organization_id=actor_org,
                             memo=memo, postings=[tuple(p) for p in postings])


class LogAppender:
    """Appends leaves to the stored log, computing the perfect-subtree nodes that each leaf completes."""

    def __init__(self, size: int):
        self.size = size
        self.edge: list[tuple[int, bytes]] = []  # right-edge perfect subtrees, heights decreasing
        start = 0
        for height in range(size.bit_length() - 1, -1, -1):
            if size & (1 << height):
                self.edge.append((height, stored_node(height, start >> height)))
                start += 1 << height
        self.leaves: list[MerkleLeaf] = []
        self.nodes: list[MerkleNode] = []

    def push(self, transaction_id: int, h: bytes) -> None:
        index = self.size
        self.leaves.append(MerkleLeaf(index=index, transaction_id=transaction_id, leaf_hash=h))
        height = 0
        while self.edge and self.edge[-1][0] == height:
            _, left = self.edge.pop()
            h = node_hash(left, h)
            height += 1
            self.nodes.append(MerkleNode(level=height, index=index >> height, hash=h))
        self.edge.append((height, h))
        self.size += 1

    def root(self) -> bytes:
        if not self.edge:
            return EMPTY_ROOT
        acc = self.edge[-1][1]
        for _, left in reversed(self.edge[:-1]):
            acc = node_hash(left, acc)
        return acc

    def flush(self) -> None:
        MerkleLeaf.objects.bulk_create(self.leaves, batch_size=2000)
        MerkleNode.objects.bulk_create(self.nodes, batch_size=2000)
        self.leaves, self.nodes = [], []


def stored_node(level: int, index: int) -> bytes:
    if level == 0:
        return bytes(MerkleLeaf.objects.values_list("leaf_hash", flat=True).get(index=index))
    return bytes(MerkleNode.objects.values_list("hash", flat=True).get(level=level, index=index))


@dataclass
class SealResult:
    checkpoint: Checkpoint | None
    sealed: int


def seal(*, batch: int = 5000) -> SealResult:
    """Append every finished, unsealed ledger transaction to the log and write a signed checkpoint."""
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEAL_LOCK])
            if not cur.fetchone()[0]:
                return SealResult(None, 0)
            cur.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            horizon = cur.fetchone()[0]
        last = Checkpoint.objects.order_by("-tree_size").first()
        lower = last.xid_horizon if last else 0
        appender = LogAppender(last.tree_size if last else 0)
        sealed = 0
        with connection.connection.cursor(name=f"seal_{horizon}") as stream:
            stream.itersize = batch
            stream.execute(f"SELECT {TRANSACTION_COLUMNS} FROM ledger_ledgertransaction t "
                           "WHERE t.xid >= %s AND t.xid < %s ORDER BY t.xid, t.id", [lower, horizon])
            for row in stream:
                appender.push(row[0], leaf_hash(row_bytes(row)))
                sealed += 1
                if len(appender.leaves) >= batch:
                    appender.flush()
        appender.flush()
        if sealed == 0 and last is not None:
            return SealResult(None, 0)
        now = timezone.now()
        previous = bytes(last.checkpoint_hash) if last else b"\x00" * 32
        root = appender.root()
        body = checkpoint_body(tree_size=appender.size, root_hash=root, previous_hash=previous,
                               xid_horizon=horizon, created_at=now)
        cp = Checkpoint.objects.create(tree_size=appender.size, root_hash=root, previous_hash=previous,
                                       xid_horizon=horizon, created_at=now, checkpoint_hash=checkpoint_hash(body),
                                       signature=sign(body, settings.LEDGER_SIGNING_KEY))
        return SealResult(cp, sealed)


def checkpoint_signed_body(cp: Checkpoint) -> bytes:
    return checkpoint_body(tree_size=cp.tree_size, root_hash=bytes(cp.root_hash), previous_hash=bytes(cp.previous_hash),
                           xid_horizon=cp.xid_horizon, created_at=cp.created_at)


# --- proofs (RFC 6962 §2.1.1 and §2.1.2) -------------------------------------------------------------

def subtree_hash(lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) from stored nodes: O(log n) lookups."""
    n = hi - lo
    if n == 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0 and lo % n == 0:
        return stored_node(n.bit_length() - 1, lo // n)
    k = largest_power_of_two_below(n)
    return node_hash(subtree_hash(lo, lo + k), subtree_hash(lo + k, hi))


def inclusion_proof(index: int, tree_size: int) -> list[bytes]:
    def path(m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n <= 1:
            return []
        k = largest_power_of_two_below(n)
        if m < k:
            return path(m, lo, lo + k) + [subtree_hash(lo + k, hi)]
        return path(m - k, lo + k, hi) + [subtree_hash(lo, lo + k)]

    if not 0 <= index < tree_size:
        raise ValueError("leaf index outside the tree")
    return path(index, 0, tree_size)


def consistency_proof(old_size: int, new_size: int) -> list[bytes]:
    def subproof(m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if complete else [subtree_hash(lo, hi)]
        k = largest_power_of_two_below(n)
        if m <= k:
            return subproof(m, lo, lo + k, complete) + [subtree_hash(lo + k, hi)]
        return subproof(m - k, lo + k, hi, False) + [subtree_hash(lo, lo + k)]

    if not 0 < old_size <= new_size:
        raise ValueError("need 0 < old_size <= new_size")
    return subproof(old_size, 0, new_size, True)


__all__ = ["CompactRange", "consistency_proof", "inclusion_proof", "seal", "subtree_hash"]
