"""Full verification of the ledger, streaming in one REPEATABLE READ snapshot (constant memory).

Checks, in this order, stopping at the first fault:
  1. checkpoints: each signature valid under LEDGER_SIGNING_KEY, each chained to the one before;
  2. the sealed log, leaf by leaf: the transaction still exists (`deleted`), its postings sum to zero
     per asset (`unbalanced`), its canonical bytes hash to the sealed leaf (`reordered` when the hash
     belongs to another leaf, `altered` otherwise), and the leaves rebuild every checkpoint root
     (`root_mismatch`);
  3. unsealed transactions: none may sit below the last checkpoint's horizon (`inserted`), each sums
     to zero per asset (`unbalanced`);
  4. every account balance equals the sum of its postings (`balance_mismatch`), and every asset's
     balances sum to zero (`not_conserved`).
"""
from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction

from .canonical import CompactRange, leaf_hash, signature_valid
from .models import Checkpoint
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
    stats: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"ok": self.ok, "fault": None if not self.fault else {
            "kind": self.fault.kind, "transaction_id": self.fault.transaction_id, "detail": self.fault.detail},
            "transactions": self.transactions, "sealed": self.sealed, "checkpoints": self.checkpoints,
            "accounts": self.accounts}


class _Fail(Exception):
    def __init__(self, fault: Fault):
        self.fault = fault


def _unbalanced(postings) -> str | None:
    sums: dict[int, int] = defaultdict(int)
    for _pid, _account, asset, _bucket, amount in postings:
        sums[asset] += amount
    bad = [a for a, s in sums.items() if s != 0]
    if not postings:
        return "has no postings"
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


def verify_ledger(*, progress: bool = False, batch: int = 5000) -> Report:
    report = Report()
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cur.execute("SELECT count(*) FROM ledger_ledgertransaction")
            total = cur.fetchone()[0]
        bar = Progress(total, enabled=progress)
        try:
            _verify_checkpoints(report)
            _verify_log(report, bar, batch)
            _verify_unsealed(report, bar, batch)
            _verify_balances(report)
        except _Fail as failure:
            report.ok, report.fault = False, failure.fault
        finally:
            bar.close()
    return report


def _checkpoints() -> list[Checkpoint]:
    return list(Checkpoint.objects.order_by("tree_size"))


def _verify_checkpoints(report: Report) -> None:
    previous = b"\x00" * 32
    for cp in _checkpoints():
        report.checkpoints += 1
        body = checkpoint_signed_body(cp)
        if not signature_valid(body, settings.LEDGER_SIGNING_KEY, cp.signature):
            raise _Fail(Fault("checkpoint_signature", None, f"checkpoint at size {cp.tree_size} has a bad signature"))
        if bytes(cp.previous_hash) != previous:
            raise _Fail(Fault("checkpoint_chain", None, f"checkpoint at size {cp.tree_size} is not chained to the one before"))
        previous = bytes(cp.checkpoint_hash)


def _verify_log(report: Report, bar: Progress, batch: int) -> None:
    checkpoints = {cp.tree_size: bytes(cp.root_hash) for cp in _checkpoints()}
    tree = CompactRange()
    with connection.connection.cursor(name="verify_log") as stream:
        stream.itersize = batch
        stream.execute(f"""SELECT l.index, l.leaf_hash, l.transaction_id, t.id IS NOT NULL, {TRANSACTION_COLUMNS}
                           FROM ledger_merkleleaf l LEFT JOIN ledger_ledgertransaction t ON t.id = l.transaction_id
                           ORDER BY l.index""")
        for index, stored, leaf_txn, exists, *row in stream:
            stored = bytes(stored)
            if index != tree.size:
                raise _Fail(Fault("deleted", leaf_txn, f"leaf {tree.size} of the sealed log is missing"))
            if not exists:
                raise _Fail(Fault("deleted", leaf_txn, f"sealed at leaf {index} but no longer in the journal"))
            problem = _unbalanced(row[-1])
            if problem:
                raise _Fail(Fault("unbalanced", leaf_txn, problem))
            recomputed = leaf_hash(row_bytes(row))
            if recomputed != stored:
                other = _leaf_index_of(recomputed)
                if other is not None:
                    raise _Fail(Fault("reordered", leaf_txn,
                                      f"content sealed at leaf {other} now sits at leaf {index}"))
                raise _Fail(Fault("altered", leaf_txn, f"content no longer matches its sealed hash (leaf {index})"))
            tree.push(stored)
            report.sealed += 1
            report.transactions += 1
            bar.step()
            expected_root = checkpoints.get(tree.size)
            if expected_root is not None and tree.root() != expected_root:
                raise _Fail(Fault("root_mismatch", leaf_txn, f"leaves do not rebuild the checkpoint at size {tree.size}"))
    last_size = max(checkpoints, default=0)
    if tree.size < last_size:
        raise _Fail(Fault("deleted", None, f"the log has {tree.size} leaves but a checkpoint covers {last_size}"))


def _leaf_index_of(h: bytes) -> int | None:
    with connection.cursor() as cur:
        cur.execute("SELECT index FROM ledger_merkleleaf WHERE leaf_hash = %s LIMIT 1", [h])
        row = cur.fetchone()
    return row[0] if row else None


def _verify_unsealed(report: Report, bar: Progress, batch: int) -> None:
    last = Checkpoint.objects.order_by("-tree_size").first()
    horizon = last.xid_horizon if last else 0
    with connection.connection.cursor(name="verify_unsealed") as stream:
        stream.itersize = batch
        stream.execute(f"""SELECT t.xid, {TRANSACTION_COLUMNS} FROM ledger_ledgertransaction t
                           WHERE NOT EXISTS (SELECT 1 FROM ledger_merkleleaf l WHERE l.transaction_id = t.id)
                           ORDER BY t.id""")
        for xid, *row in stream:
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
