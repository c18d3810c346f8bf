"""Full verification of the ledger, streaming in one REPEATABLE READ snapshot (constant memory).

Checks, in this order, stopping at the first fault:
  1. checkpoints: each Ed25519 signature valid under the PUBLIC key its key id names, made while that key
     was valid (`checkpoint_signature`, `checkpoint_key`), each chained to the one before, horizons never
     going back (`checkpoint_chain`). No secret is needed: the public keys come from `ledger_signingkey`
     or, pinned by a verifier who does not trust this database, from `trusted_keys` (verify_ledger
     --trusted-keys FILE). Legacy HMAC checkpoints (before Ed25519) are checked only when
     LEDGER_LEGACY_HMAC_KEY is set, else counted as `legacy_unverified`: their roots are still rebuilt from
     the leaves, and every later Ed25519 checkpoint commits to them through the hash chain;
  2. the sealed log, leaf by leaf: no leaf missing and the transaction still exists (`deleted`), its
     postings sum to zero per asset (`unbalanced`), its canonical bytes hash to the sealed leaf
     (`reordered` when the content belongs at another leaf — two rows swapped, or the leaf table
     re-pointed — `altered` otherwise); the leaves rebuild every checkpoint root (`root_mismatch`) and
     every stored perfect-subtree node that inclusion and consistency proofs are served from
     (`node_mismatch`);
  3. unsealed transactions: none may sit below the last checkpoint's horizon (`inserted`), each sums
     to zero per asset (`unbalanced`);
  4. every account balance equals the sum of its postings (`balance_mismatch`), and every asset's
     balances sum to zero (`not_conserved`).

Every table is read through a server-side cursor in batches, checkpoints and nodes merged into the
leaf scan in the order leaves complete them, so memory does not grow with the ledger. Leaves are hashed
once; a mismatch is looked up once more to tell a reorder from an edit.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction

from .canonical import EMPTY_ROOT, leaf_hash, legacy_hmac_valid, node_hash
from .keys import LEGACY_HMAC_KEY_ID
from .keys import verify as signature_valid
from .models import Checkpoint, SigningKey
from .sealing import TRANSACTION_COLUMNS, checkpoint_signed_body, row_bytes


@dataclass
class Fault:
    kind: str
    transaction_id: int | None
    detail: str

    def __str__(self):
        where = f"transaction {self.transaction_id}" if self.transaction_id is not None else "ledger"
        return f"{self.kind}: {where}: {self.detail}"


@dataclass
class Report:
    ok: bool = True
    fault: Fault | None = None
    transactions: int = 0
    sealed: int = 0
    checkpoints: int = 0
    accounts: int = 0
    legacy_unverified: int = 0
    stats: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"ok": self.ok, "fault": None if not self.fault else {
            "kind": self.fault.kind, "transaction_id": self.fault.transaction_id, "detail": self.fault.detail},
            "transactions": self.transactions, "sealed": self.sealed, "checkpoints": self.checkpoints,
            "accounts": self.accounts, "legacy_unverified": self.legacy_unverified}


class _Fail(Exception):
    def __init__(self, fault: Fault):
        self.fault = fault


def _unbalanced(postings) -> str | None:
    if not postings:
        return "has no postings"
    sums: dict[int, int] = defaultdict(int)
    for _pid, _account, asset, _bucket, amount in postings:
        sums[asset] += amount
    bad = [a for a, s in sums.items() if s != 0]
    return f"postings of asset {bad[0]} sum to {sums[bad[0]]}" if bad else None


class Progress:
    def __init__(self, total: int, stream=None, enabled: bool = True):
        self.total, self.done, self.stream = max(total, 1), 0, stream or sys.stderr
        self.enabled = enabled
        self._last = -1

    def step(self, n: int = 1):
        self.done += n
        pct = min(100, self.done * 100 // self.total)
        if self.enabled and pct != self._last:
            self._last = pct
            bar = "#" * (pct // 4)
            self.stream.write(f"\rverifying [{bar:<25}] {pct:3d}% {self.done}/{self.total}")
            self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\n")


@contextmanager
def _stream(name: str, sql: str, params=None, batch: int = 5000):
    """A server-side cursor (psycopg2 named cursor): rows arrive `batch` at a time."""
    connection.ensure_connection()
    with connection.connection.cursor(name=name) as cur:
        cur.itersize = batch
        cur.execute(sql, params or [])
        yield iter(cur)


def verify_ledger(*, progress: bool = False, batch: int = 5000,
                  trusted_keys: dict[str, bytes] | None = None) -> Report:
    """`trusted_keys`: {key id: raw public key} pinned by the verifier; by default the stored public keys."""
    report = Report()
    nested = connection.in_atomic_block
    with transaction.atomic():
        with connection.cursor() as cur:
            if not nested:  # one snapshot for every check; inside a caller's transaction we use its snapshot
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur.execute("SELECT count(*) FROM ledger_ledgertransaction")
            total = cur.fetchone()[0]
        bar = Progress(total, enabled=progress)
        try:
            last_checkpoint = _verify_checkpoints(report, batch, trusted_keys)
            _verify_log(report, bar, batch, last_checkpoint)
            _verify_unsealed(report, bar, batch, last_checkpoint)
            _verify_balances(report)
        except _Fail as failure:
            report.ok, report.fault = False, failure.fault
        finally:
            bar.close()
    return report


_CHECKPOINT_SQL = """SELECT id, tree_size, root_hash, previous_hash, xid_horizon, created_at, checkpoint_hash,
                              signature, key_id
                       FROM ledger_checkpoint ORDER BY tree_size"""


def _checkpoint_of(row) -> Checkpoint:
    cid, size, root, previous, horizon, created_at, chash, signature, kid = row
    return Checkpoint(id=cid, tree_size=size, root_hash=bytes(root), previous_hash=bytes(previous),
                      xid_horizon=horizon, created_at=created_at, checkpoint_hash=bytes(chash), signature=signature,
                      key_id=kid)


def _check_signature(report: Report, cp: Checkpoint, keys: dict, validity: dict) -> None:
    body = checkpoint_signed_body(cp)
    if cp.key_id == LEGACY_HMAC_KEY_ID:
        if not settings.LEDGER_LEGACY_HMAC_KEY:
            report.legacy_unverified += 1
            return
        valid = legacy_hmac_valid(body, settings.LEDGER_LEGACY_HMAC_KEY, cp.signature)
    else:
        public = keys.get(cp.key_id)
        if public is None:
            raise _Fail(Fault("checkpoint_key", None,
                              f"checkpoint at size {cp.tree_size} names an unknown key {cp.key_id!r}"))
        valid_from, valid_until = validity.get(cp.key_id, (None, None))
        if (valid_from and cp.created_at < valid_from) or (valid_until and cp.created_at > valid_until):
            raise _Fail(Fault("checkpoint_key", None, f"checkpoint at size {cp.tree_size} was signed outside "
                                                      f"the validity of key {cp.key_id}"))
        valid = signature_valid(body, cp.signature, public)
    if not valid:
        raise _Fail(Fault("checkpoint_signature", None, f"checkpoint at size {cp.tree_size} has a bad signature"))


def _verify_checkpoints(report: Report, batch: int, trusted_keys: dict | None) -> tuple[int, int] | None:
    """Signatures and chain; returns (tree size, xid horizon) of the last checkpoint."""
    stored = {k.key_id: k for k in SigningKey.objects.all()}
    validity = {kid: (k.valid_from, k.valid_until) for kid, k in stored.items()}
    keys = dict(trusted_keys) if trusted_keys is not None else {kid: bytes(k.public_key) for kid, k in stored.items()}
    previous, horizon, last = b"\x00" * 32, None, None
    with _stream("verify_checkpoints", _CHECKPOINT_SQL, batch=batch) as rows:
        for row in rows:
            cp = _checkpoint_of(row)
            report.checkpoints += 1
            _check_signature(report, cp, keys, validity)
            if bytes(cp.previous_hash) != previous or (horizon is not None and cp.xid_horizon < horizon):
                raise _Fail(Fault("checkpoint_chain", None,
                                  f"checkpoint at size {cp.tree_size} is not chained to the one before"))
            previous, horizon = bytes(cp.checkpoint_hash), cp.xid_horizon
            last = (cp.tree_size, cp.xid_horizon)
    return last


class _Rebuild:
    """The RFC 6962 tree rebuilt leaf by leaf in O(log n) memory, reporting each perfect subtree a leaf
    completes as (level, index, hash, first transaction) — the rows `ledger_merklenode` must hold."""

    def __init__(self):
        self.size = 0
        self._edge: list[tuple[int, bytes, int]] = []  # (height, hash, transaction of its first leaf)

    def push(self, h: bytes, transaction_id: int) -> list[tuple[int, int, bytes, int]]:
        index, height, first, completed = self.size, 0, transaction_id, []
        while self._edge and self._edge[-1][0] == height:
            _, left, first = self._edge.pop()
            h = node_hash(left, h)
            height += 1
            completed.append((height, index >> height, h, first))
        self._edge.append((height, h, first))
        self.size += 1
        return completed

    def root(self) -> bytes:
        if not self._edge:
            return EMPTY_ROOT
        acc = self._edge[-1][1]
        for _, left, _first in reversed(self._edge[:-1]):
            acc = node_hash(left, acc)
        return acc


def _with_id(row, transaction_id: int) -> bytes:
    return row_bytes((transaction_id, *row[1:]))


def _verify_log(report: Report, bar: Progress, batch: int, last_checkpoint: tuple[int, int] | None) -> None:
    tree = _Rebuild()
    suspect = None  # (index, transaction id, row, stored hash) of an edit that may be half of a swap
    # nodes in the order the leaf scan completes them: the subtree [i·2^l, (i+1)·2^l) completes at leaf (i+1)·2^l − 1
    with _stream("verify_cp_roots", "SELECT tree_size, root_hash FROM ledger_checkpoint ORDER BY tree_size",
                 batch=batch) as checkpoints, \
         _stream("verify_nodes", """SELECT level, index, hash FROM ledger_merklenode
                                    ORDER BY (index + 1) << level::int, level""", batch=batch) as nodes, \
         _stream("verify_log", f"""SELECT l.index, l.leaf_hash, l.transaction_id, t.id IS NOT NULL,
                                         {TRANSACTION_COLUMNS}
                                    FROM ledger_merkleleaf l
                                    LEFT JOIN ledger_ledgertransaction t ON t.id = l.transaction_id
                                   ORDER BY l.index""", batch=batch) as leaves:
        next_cp = next(checkpoints, None)
        next_node = next(nodes, None)

        def check_roots(leaf_txn):
            nonlocal next_cp
            while next_cp is not None and next_cp[0] <= tree.size:
                if next_cp[0] < tree.size or tree.root() != bytes(next_cp[1]):
                    raise _Fail(Fault("root_mismatch", leaf_txn,
                                      f"leaves do not rebuild the checkpoint at size {next_cp[0]}"))
                next_cp = next(checkpoints, None)

        check_roots(None)  # a checkpoint of the empty log
        for index, stored, leaf_txn, exists, *row in leaves:
            stored = bytes(stored)
            if index != tree.size:
                _resolve(suspect)
                raise _Fail(Fault("deleted", leaf_txn, f"leaf {tree.size} of the sealed log is missing"))
            if not exists:
                _resolve(suspect)
                raise _Fail(Fault("deleted", leaf_txn, f"sealed at leaf {index} but no longer in the journal"))
            problem = _unbalanced(row[-1])
            if problem:
                _resolve(suspect)
                raise _Fail(Fault("unbalanced", leaf_txn, problem))
            recomputed = leaf_hash(row_bytes(row))
            if recomputed != stored:
                other = _leaf_index_of(recomputed)
                if other is not None:
                    _resolve(suspect)
                    raise _Fail(Fault("reordered", leaf_txn,
                                      f"content sealed at leaf {other} now sits at leaf {index}"))
                if suspect is None:
                    # keep scanning: a second edit whose id-swapped content matches makes this a reorder
                    suspect = (index, leaf_txn, row, stored)
                else:
                    s_index, s_txn, s_row, s_stored = suspect
                    if leaf_hash(_with_id(s_row, leaf_txn)) == stored or leaf_hash(_with_id(row, s_txn)) == s_stored:
                        raise _Fail(Fault("reordered", s_txn,
                                          f"transactions {s_txn} (leaf {s_index}) and {leaf_txn} (leaf {index}) "
                                          "have exchanged places"))
                    _resolve(suspect)
            for level, node_index, h, first_txn in tree.push(stored, leaf_txn):
                if next_node is None or (next_node[0], next_node[1]) != (level, node_index) \
                        or bytes(next_node[2]) != h:
                    _resolve(suspect)
                    # the stored node or one of the leaves under it changed: name the subtree's first
                    lo, hi = node_index << level, ((node_index + 1) << level) - 1
                    raise _Fail(Fault("node_mismatch", first_txn,
                                      f"stored node (level {level}, index {node_index}) is missing or does not "
                                      f"match leaves {lo}..{hi}"))
                next_node = next(nodes, None)
            report.sealed += 1
            report.transactions += 1
            bar.step()
            check_roots(leaf_txn)
        _resolve(suspect)
        if next_node is not None:
            raise _Fail(Fault("node_mismatch", None,
                              f"stored node (level {next_node[0]}, index {next_node[1]}) lies outside the log"))
    last_size = last_checkpoint[0] if last_checkpoint else 0
    if tree.size < last_size:
        raise _Fail(Fault("deleted", None, f"the log has {tree.size} leaves but a checkpoint covers {last_size}"))
    if tree.size > last_size:
        raise _Fail(Fault("root_mismatch", None,
                          f"the log has {tree.size} leaves but the last checkpoint covers {last_size}"))


def _resolve(suspect) -> None:
    """An edit with no partner found: it was altered in place."""
    if suspect is not None:
        index, txn, _row, _stored = suspect
        raise _Fail(Fault("altered", txn, f"content no longer matches its sealed hash (leaf {index})"))


def _leaf_index_of(h: bytes) -> int | None:
    with connection.cursor() as cur:
        cur.execute("SELECT index FROM ledger_merkleleaf WHERE leaf_hash = %s LIMIT 1", [h])
        row = cur.fetchone()
    return row[0] if row else None


def _verify_unsealed(report: Report, bar: Progress, batch: int, last_checkpoint: tuple[int, int] | None) -> None:
    horizon = last_checkpoint[1] if last_checkpoint else 0
    with _stream("verify_unsealed", f"""SELECT t.xid, {TRANSACTION_COLUMNS} FROM ledger_ledgertransaction t
                                         WHERE NOT EXISTS (SELECT 1 FROM ledger_merkleleaf l
                                                            WHERE l.transaction_id = t.id)
                                         ORDER BY t.id""", batch=batch) as rows:
        for xid, *row in rows:
            if xid < horizon:
                raise _Fail(Fault("inserted", row[0], "not in the sealed log although below the sealed horizon"))
            problem = _unbalanced(row[-1])
            if problem:
                raise _Fail(Fault("unbalanced", row[0], problem))
            report.transactions += 1
            bar.step()


def _verify_balances(report: Report) -> None:
    with connection.cursor() as cur:
        cur.execute("""
            WITH sums AS (
                SELECT account_id,
                       coalesce(sum(amount) FILTER (WHERE bucket = 'A'), 0) AS a,
                       coalesce(sum(amount) FILTER (WHERE bucket = 'H'), 0) AS h
                  FROM ledger_posting GROUP BY account_id)
            SELECT acc.id, acc.available, acc.held, coalesce(s.a, 0), coalesce(s.h, 0),
                   (SELECT max(transaction_id) FROM ledger_posting p WHERE p.account_id = acc.id)
              FROM ledger_account acc LEFT JOIN sums s ON s.account_id = acc.id
             WHERE acc.available <> coalesce(s.a, 0) OR acc.held <> coalesce(s.h, 0)
             ORDER BY acc.id LIMIT 1""")
        bad = cur.fetchone()
        if bad:
            acc, avail, held, sa, sh, last_txn = bad
            raise _Fail(Fault("balance_mismatch", last_txn,
                              f"account {acc}: balance {avail}/{held} but postings give {sa}/{sh}"))
        cur.execute("SELECT count(*) FROM ledger_account")
        report.accounts = cur.fetchone()[0]
        cur.execute("""SELECT asset_id, sum(available + held) FROM ledger_account GROUP BY asset_id
                       HAVING sum(available + held) <> 0 LIMIT 1""")
        bad = cur.fetchone()
        if bad:
            raise _Fail(Fault("not_conserved", None, f"asset {bad[0]}: balances sum to {bad[1]}"))
