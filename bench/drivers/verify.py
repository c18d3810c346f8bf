"""`verify`: `manage.py verify_ledger` over a ledger of 1M transactions: transactions per second and
peak RSS (goal: flat memory, under 300 MB).

The ledger is filled fast: batches of two-leg transfers between the bench organizations' participant
accounts (journal rows, then their postings) are inserted with INSERT … SELECT generate_series by two
processes in parallel, with the row triggers off for the load (`session_replication_role = replica`,
as a restore would), and the balances are then brought up to date in one UPDATE from the postings.
Row-by-row triggers would apply 2M balance updates and 3M deferred checks: minutes on this machine,
for data that verify_ledger checks anyway (every transaction's zero sum, every balance against its
postings). Then `ledger.sealing.seal()` seals everything (timed too), and verify_ledger runs in a child
process whose peak RSS is read from getrusage(RUSAGE_CHILDREN)."""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import subprocess
import sys
import time

from .common import ROOT, log, rnd, setup_django

BATCH = 50_000


def _groups():
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("""SELECT a.asset_id, array_agg(a.id ORDER BY a.id) FROM ledger_account a
                         JOIN accounts_organization o ON o.id = a.organization_id
                        WHERE a.kind = 'participant' AND o.name_zh LIKE 'bench-enterprise-%%'
                        GROUP BY a.asset_id HAVING count(*) > 2 ORDER BY a.asset_id""")
        return [ids for _, ids in cur.fetchall()]


def _fill(idx: int, nprocs: int, lo: int, hi: int, out) -> None:
    setup_django()
    from django.db import connection, transaction

    groups = _groups()[idx::nprocs]
    done = 0  # one group = one asset's accounts: a transfer stays inside its group
    g0 = lo
    while g0 <= hi:
        g1 = min(hi, g0 + BATCH - 1)
        group = groups[(g0 // BATCH) % len(groups)]
        k = len(group)
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL session_replication_role = replica")
            cur.execute(
                """WITH acc(n, id, asset_id) AS (
                        SELECT (row_number() OVER (ORDER BY a.id)) - 1, a.id, a.asset_id
                          FROM ledger_account a WHERE a.id = ANY(%s)),
                   t AS (INSERT INTO ledger_ledgertransaction (kind, idempotency_key, request, actor_user_id,
                             actor_organization_id, reference_type, reference_id, memo, hash_version)
                         SELECT 'transfer', 'bench:verify:' || g, '{}'::jsonb, NULL, NULL, 'bench', g::text,
                                jsonb_build_object('amount', 1 + g %% 97), 1
                           FROM generate_series(%s::bigint, %s::bigint) g
                         RETURNING id, reference_id::bigint AS g)
                   INSERT INTO ledger_posting (transaction_id, account_id, asset_id, bucket, amount)
                   SELECT t.id, acc.id, acc.asset_id, 'A', leg.amount
                     FROM t CROSS JOIN LATERAL (VALUES
                            (t.g %% %s, -(1 + t.g %% 97)),
                            ((t.g + 1 + (t.g / %s) %% (%s - 1)) %% %s, 1 + t.g %% 97)) leg(n, amount)
                     JOIN acc ON acc.n = leg.n
                    ORDER BY t.id, leg.amount""",
                [group, g0, g1, k, k, k, k])
        done += g1 - g0 + 1
        g0 = g1 + 1
    out.put(done)


def fill(total: int, procs: int = 2) -> float:
    from django.db import connection, transaction

    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM ledger_ledgertransaction")
        after = cur.fetchone()[0]
    connection.close()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    per = total // procs
    ranges = [(i * per + 1, total if i == procs - 1 else (i + 1) * per) for i in range(procs)]
    t0 = time.monotonic()
    ps = [ctx.Process(target=_fill, args=(i, procs, lo, hi, out)) for i, (lo, hi) in enumerate(ranges)]
    for p in ps:
        p.start()
    n = sum(out.get(timeout=1800) for _ in ps)
    for p in ps:
        p.join()
        if p.exitcode:
            raise RuntimeError(f"fill process exited {p.exitcode}")
    assert n == total
    with transaction.atomic(), connection.cursor() as cur:  # the balances the row trigger would have applied
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("""UPDATE ledger_account a SET available = a.available + d.delta
                         FROM (SELECT account_id, sum(amount) AS delta FROM ledger_posting
                                WHERE transaction_id > %s AND bucket = 'A' GROUP BY account_id) d
                        WHERE a.id = d.account_id""", [after])
        cur.execute("ANALYZE ledger_posting")
        cur.execute("ANALYZE ledger_ledgertransaction")
    return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--transactions", type=int, default=1_000_000)
    args = ap.parse_args()
    setup_django()
    from ledger.models import LedgerTransaction
    from ledger.sealing import seal

    before = LedgerTransaction.objects.count()
    fill_s = fill(args.transactions)
    log(f"ledger filled with {args.transactions} transactions in {fill_s:.0f} s")
    t0 = time.monotonic()
    sealed = 0
    while True:
        r = seal()
        sealed += r.sealed
        if r.sealed == 0:
            break
    seal_s = time.monotonic() - t0
    log(f"sealed {sealed} transactions in {seal_s:.0f} s")

    # verify_ledger in a child of a tiny wrapper: the wrapper's RUSAGE_CHILDREN is exactly its peak RSS
    wrapper = ("import resource, subprocess, sys, time; t = time.monotonic(); "
               "p = subprocess.run([sys.executable, 'manage.py', 'verify_ledger', '--no-progress', '--json'], "
               "capture_output=True, text=True); "
               "print(p.returncode, time.monotonic() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
               "print(p.stdout.strip().splitlines()[-1] if p.stdout.strip() else p.stderr[-500:])")
    out = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, cwd=ROOT, check=True)
    head, body = out.stdout.strip().splitlines()[:2]
    code, secs, rss_kb = head.split()
    secs = float(secs)
    report = json.loads(body) if code == "0" else {"ok": False, "error": body}
    n = report.get("transactions") or 0
    log(f"verify_ledger: {n} transactions in {secs:.1f} s, peak RSS {int(rss_kb) / 1024:.0f} MB, ok={report.get('ok')}")
    print(json.dumps({
        "transactions": n, "generated": args.transactions, "preexisting": before,
        "seconds": rnd(secs, 2), "transactions_per_s": rnd(n / secs) if n else None,
        "peak_rss_mb": rnd(int(rss_kb) / 1024), "ok": report.get("ok"), "fault": report.get("fault"),
        "fill_seconds": rnd(fill_s), "seal_seconds": rnd(seal_s),
        "seal_per_s": rnd(sealed / seal_s) if seal_s else None,
        "postings_per_transaction": 2,
    }))


if __name__ == "__main__":
    main()
