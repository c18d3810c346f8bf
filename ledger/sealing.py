"""Tamper evidence by sealing after commit (DESIGN option 2).

Writers never coordinate: each ledger transaction just records its database transaction id (`xid`).
`seal()` (Celery beat, every LEDGER_SEAL_INTERVAL_SECONDS) takes the horizon (`sealing_horizon`: the
oldest xid still running in this database, from a snapshot) — every xid below it has committed or
aborted, so the set of ledger transactions below it can never change — and appends those not yet
sealed (xid in [previous horizon, horizon)) in (xid, id) order as leaves of an RFC 6962 Merkle log,
storing the roots of completed perfect subtrees so that any proof needs O(log n) lookups. It then
writes a checkpoint (tree size, root, previous checkpoint's hash) signed with the Ed25519 key
LEDGER_SIGNING_KEY (ledger.keys), naming the key's id; the public key is registered (`SigningKey`) the first
time it signs, closing the previous key's validity (rotation), and anyone verifies with it alone.

Cost: writers pay nothing (no shared lock, no extra statement); a transaction is provable once the
next seal runs (a few seconds); the sealer is one process at a time (advisory lock) and hashes each
transaction once. A long-running writing transaction in this database holds the horizon back, delaying
(never skipping) sealing (keep `idle_in_transaction_session_timeout` set). When unsealed ledger
transactions wait longer than SEAL_LAG_WARNING_SECONDS, `seal()` logs which backend holds the horizon.

Measured here (2 cores, fsync on, one process): a service transaction (lock, journal row, postings,
audit row, commit) ≈ 1.1 ms, ≈ 800–950/s; a 4-leg DvP-shaped `post()` ≈ 0.9 ms; a bare insert+commit
≈ 0.25 ms. Writers sharing no account run in parallel; a global chain under a lock (DESIGN option 1)
would instead serialize every ledger commit in the system.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone

from .canonical import (
    EMPTY_ROOT,
    CompactRange,
    checkpoint_body,
    checkpoint_hash,
    edge_root,
    largest_power_of_two_below,
    leaf_hash,
    node_hash,
    transaction_bytes,
)
from .keys import key_id, load_private_key, public_raw, sign
from .models import Checkpoint, MerkleLeaf, MerkleNode, SigningKey

SEAL_LOCK = 0x5EA1ED
SEAL_LAG_WARNING_SECONDS = 60
log = logging.getLogger(__name__)
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


def canonical_bytes(transaction_id: int) -> bytes:
    """The canonical bytes of one stored transaction, read exactly as the sealer reads them."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT {TRANSACTION_COLUMNS} FROM ledger_ledgertransaction t WHERE t.id = %s", [transaction_id])
        return row_bytes(cur.fetchone())


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
        return edge_root(self.edge)

    def flush(self) -> None:
        MerkleLeaf.objects.bulk_create(self.leaves, batch_size=2000)
        MerkleNode.objects.bulk_create(self.nodes, batch_size=2000)
        self.leaves, self.nodes = [], []


def stored_node(level: int, index: int) -> bytes:
    if level == 0:
        return bytes(MerkleLeaf.objects.values_list("leaf_hash", flat=True).get(index=index))
    return bytes(MerkleNode.objects.values_list("hash", flat=True).get(level=level, index=index))


def sealing_horizon(cur) -> int:
    """The xid below which every transaction of this database has finished.

    Step 1 takes a snapshot: its in-progress xids (`xip`) and `xmax` (every later xid is assigned after
    this instant). Step 2, strictly afterwards, lists the transactions still running in this database
    from `pg_locks` (every running transaction holds the lock on its own xid; readable by any role,
    unlike pg_stat_activity's xid column) — prepared transactions, which have no backend, count too.
    The horizon is the least snapshot xid still running here, else `xmax`. A transaction that finished
    between the two steps is committed (visible to the sealer's next statement) or gone. Transactions
    in other databases of the cluster (a test run beside `make run`) are ignored: they cannot write these
    tables, and waiting for them would stall sealing for nothing."""
    cur.execute("""SELECT pg_snapshot_xmax(s)::text::bigint,
                          array(SELECT x::text::bigint FROM pg_snapshot_xip(s) x)
                     FROM pg_current_snapshot() s""")
    xmax, in_progress = cur.fetchone()
    if not in_progress:
        return xmax
    cur.execute("""SELECT DISTINCT l.transactionid::text::bigint FROM pg_locks l
                     LEFT JOIN pg_stat_activity a ON a.pid = l.pid
                    WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock'
                      AND (a.pid IS NULL  -- no backend row (a prepared transaction): count it, to be safe
                           OR a.datid = (SELECT oid FROM pg_database WHERE datname = current_database()))""")
    running_here = {row[0] for row in cur.fetchall()}  # 32-bit xids
    here = [x for x in in_progress if x % 2**32 in running_here]
    return min(here, default=xmax)


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
            horizon = sealing_horizon(cur)
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
            _warn_if_held_back(horizon)
            return SealResult(None, 0)
        now = timezone.now()
        previous = bytes(last.checkpoint_hash) if last else b"\x00" * 32
        root = appender.root()
        body = checkpoint_body(tree_size=appender.size, root_hash=root, previous_hash=previous,
                               xid_horizon=horizon, created_at=now)
        private = signing_key()
        kid = register_signing_key(public_raw(private), now)
        cp = Checkpoint.objects.create(tree_size=appender.size, root_hash=root, previous_hash=previous,
                                       xid_horizon=horizon, created_at=now, checkpoint_hash=checkpoint_hash(body),
                                       signature=sign(body, private), key_id=kid)
        return SealResult(cp, sealed)


_parsed_keys: dict[str, object] = {}


def signing_key():
    """The configured Ed25519 private key (parsed once per configured value)."""
    text = settings.LEDGER_SIGNING_KEY
    if not text:
        raise ImproperlyConfigured("LEDGER_SIGNING_KEY is not set: checkpoints cannot be signed")
    if text not in _parsed_keys:
        _parsed_keys.clear()
        _parsed_keys[text] = load_private_key(text)
    return _parsed_keys[text]


def register_signing_key(public: bytes, now) -> str:
    """Record the public key the first time it signs (under the seal lock); a new key closes the validity
    of the key(s) used before it — that is a rotation. Returns the key id."""
    kid = key_id(public)
    known = SigningKey.objects.filter(key_id=kid).first()
    if known is None:
        SigningKey.objects.filter(valid_until__isnull=True).update(valid_until=now)
        SigningKey.objects.create(key_id=kid, public_key=public, valid_from=now)
    elif known.valid_until is not None:  # verifiers refuse it: a retired key never signs again
        raise ImproperlyConfigured(f"LEDGER_SIGNING_KEY {kid} was retired at {known.valid_until}: "
                                   "configure a new key (python -m ledger.keys generate)")
    return kid


def _warn_if_held_back(horizon: int) -> None:
    with connection.cursor() as cur:
        cur.execute("""SELECT min(created_at) FROM ledger_ledgertransaction
                        WHERE xid >= %s AND created_at < statement_timestamp() - make_interval(secs => %s)""",
                    [horizon, SEAL_LAG_WARNING_SECONDS])
        waiting_since = cur.fetchone()[0]
        if waiting_since is None:
            return
        # the backend whose transaction is the horizon (pg_stat_activity shows the 32-bit xid)
        cur.execute("""SELECT pid, datname, state, now() - xact_start FROM pg_stat_activity
                        WHERE backend_xid::text = %s""", [str(horizon % 2**32)])
        blocker = cur.fetchone()
    log.warning("ledger sealing held back since %s by transaction %s (backend %s)", waiting_since, horizon,
                blocker and {"pid": blocker[0], "database": blocker[1], "state": blocker[2], "age": str(blocker[3])})


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
