"""`settlement`: trades settled per second by the Celery worker vs a bare one-insert task on the same
worker, and match-to-settled latency at a steady load.

* Throughput: after a warm-up of settled trades (per-process caches and prepared statements, as the
  order run's wrk warm-up), the worker stops consuming the settlement queues (Celery remote control), producer
  processes place crossing pairs of orders through `trading.orderbook.services.order_place` (the real matching
  path, whose after-commit hook publishes the settlement messages), then the worker consumes again and
  drains the backlog. Rate = trades / span of their settling ledger transactions' timestamps. The bare
  ceiling is measured the same way: N `bench.tasks.bare_insert` messages queued, then consumed.
* Latency: producers place pairs at a fixed rate (a share of the measured throughput) while the
  worker consumes; match-to-settled = trade row timestamp → its settling ledger transaction's timestamp.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import time

from .common import load_seed, log, percentile, rnd, setup_django

QTY = 1000  # one lot (scale 3)


def _producer(idx: int, nprocs: int, pairs: int, rate: float | None, start, out) -> None:
    setup_django()
    from accounts.actor import Actor
    from accounts.models import Organization
    from trading.orderbook.services import order_place

    seed = load_seed()
    orgs = {o.id: o for o in Organization.objects.filter(id__in=seed["orgs"])}
    users = dict(zip(seed["orgs"], seed["users"]))
    markets = seed["settle_markets"][idx::nprocs] or seed["settle_markets"]
    rng = random.Random(1000 + idx)
    mid = seed["mid_price"]

    def actor(org_id):
        return Actor(user_id=users[org_id], organization_id=org_id, role="trader", organization_kind="enterprise")

    start.wait()
    t0 = time.monotonic()
    made = errors = 0
    for k in range(pairs):
        if rate:
            delay = t0 + k / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        market = markets[k % len(markets)]
        seller, buyer = rng.sample(seed["orgs"], 2)
        price = mid + rng.randint(-20, 20)
        try:
            order_place(actor=actor(seller), organization=orgs[seller], market_id=market, side="sell", price=price,
                        quantity=QTY)
            r = order_place(actor=actor(buyer), organization=orgs[buyer], market_id=market, side="buy", price=price,
                            quantity=QTY, time_in_force="ioc")
            made += len(r.trades)
        except Exception as exc:  # noqa: BLE001 - count and carry on; reported in the result
            errors += 1
            if errors <= 3:
                log(f"producer {idx}: {exc!r}")
    out.put((made, errors, time.monotonic() - t0))


def produce(pairs: int, *, procs: int = 2, rate: float | None = None) -> dict:
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    per = [pairs // procs + (1 if i < pairs % procs else 0) for i in range(procs)]
    ps = [ctx.Process(target=_producer, args=(i, procs, per[i], rate / procs if rate else None, start, out))
          for i in range(procs)]
    for p in ps:
        p.start()
    time.sleep(2.5)  # let the children set Django up before the clock starts
    start.set()
    results = [out.get(timeout=600) for _ in ps]
    for p in ps:
        p.join()
    return {"trades": sum(r[0] for r in results), "errors": sum(r[1] for r in results),
            "seconds": max(r[2] for r in results)}


def control(action: str, queue: str, worker: str) -> None:
    from config.celery import app

    fn = app.control.add_consumer if action == "add" else app.control.cancel_consumer
    replies = fn(queue, destination=[worker], reply=True, timeout=5)
    if not replies:
        raise RuntimeError(f"worker {worker} did not answer {action}_consumer {queue}")


def settle_stats(since) -> dict:
    """Trades of the settlement markets matched since `since`, and their settling timestamps."""
    from django.db import connection

    seed = load_seed()
    with connection.cursor() as cur:
        cur.execute("""SELECT t.status, extract(epoch FROM t.created_at), extract(epoch FROM lt.created_at)
                         FROM trading_trade t LEFT JOIN ledger_ledgertransaction lt ON lt.id = t.ledger_transaction_id
                        WHERE t.market_id = ANY(%s) AND t.created_at >= %s""", [seed["settle_markets"], since])
        rows = cur.fetchall()
    settled = [(float(c), float(s)) for st, c, s in rows if st == "settled" and s is not None]
    return {"trades": len(rows), "settled": len(settled), "pending": sum(1 for r in rows if r[0] == "matched"),
            "rows": settled}


def wait_drained(since, expected: int, timeout: float) -> dict:
    end = time.monotonic() + timeout
    while True:
        st = settle_stats(since)
        if st["pending"] == 0 and st["trades"] >= expected or time.monotonic() > end:
            return st
        time.sleep(0.5)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", required=True, help="the Celery worker's hostname")
    ap.add_argument("--trades", type=int, default=2400)
    ap.add_argument("--warmup-trades", type=int, default=300)
    ap.add_argument("--bare", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=2, help="the worker's concurrency (reported)")
    ap.add_argument("--latency-seconds", type=float, default=15)
    ap.add_argument("--latency-share", type=float, default=0.8, help="share of the measured throughput")
    args = ap.parse_args()
    setup_django()
    from django.db import connection
    from django.utils import timezone

    from bench.models import BenchRow
    from bench.tasks import bare_insert
    from trading.settlement.routing import settlement_queue

    seed = load_seed()
    result: dict = {"worker_concurrency": args.concurrency}
    run_tag = f"{int(time.time())}"  # bare rows of an earlier run on the same database must not count

    def bare(n: int, note: str) -> tuple[int, float]:
        """n bare tasks queued while nobody consumes their queue, then drained: (rows, seconds first→last)."""
        for _ in range(n):
            bare_insert.apply_async((note,), queue="bench.bare")
        control("add", "bench.bare", args.worker)
        end = time.monotonic() + 120
        while BenchRow.objects.filter(source="task", note=note).count() < n and time.monotonic() < end:
            time.sleep(0.3)
        control("cancel", "bench.bare", args.worker)
        with connection.cursor() as cur:
            cur.execute("SELECT count(*), extract(epoch FROM max(created_at) - min(created_at)) FROM bench_benchrow "
                        "WHERE source = 'task' AND note = %s", [note])
            rows, span = cur.fetchone()
        log(f"bare task: {rows} rows, {(rows - 1) / float(span) if span else 0:.0f}/s")
        return rows, float(span or 0)

    # bare, settlement, bare: the ceiling is measured on both sides of the real run (drifting background load)
    bare_runs = [bare(args.bare // 2, f"before-{run_tag}")]
    # --- settlement throughput (backlog, then drain) -------------------------------------------------
    queues = sorted({settlement_queue(m) for m in seed["settle_markets"]})
    if args.warmup_trades:  # steady state, as the order run's wrk warm-up: caches, prepared statements
        since = timezone.now()
        made = produce(args.warmup_trades)
        wait_drained(since, made["trades"], timeout=120)
    for q in queues:
        control("cancel", q, args.worker)
    since = timezone.now()
    made = produce(args.trades)
    log(f"backlog: {made['trades']} trades in {made['seconds']:.1f} s ({made['errors']} errors); draining")
    for q in queues:
        control("add", q, args.worker)
    st = wait_drained(since, made["trades"], timeout=180)
    settled_ts = sorted(s for _, s in st["rows"])
    rate = (len(settled_ts) - 1) / (settled_ts[-1] - settled_ts[0]) if len(settled_ts) > 1 else None
    log(f"settled {st['settled']}/{st['trades']} at {rate or 0:.0f}/s")
    result.update(settled_per_s=rnd(rate), backlog_trades=st["trades"], backlog_settled=st["settled"],
                  producer_errors=made["errors"], producer_trades_per_s=rnd(made["trades"] / made["seconds"]))
    bare_runs.append(bare(args.bare - args.bare // 2, f"after-{run_tag}"))
    spans = [s for _, s in bare_runs]
    bare_rate = sum(n - 1 for n, _ in bare_runs) / sum(spans) if all(spans) else None
    result.update(bare_task_per_s=rnd(bare_rate), bare_tasks=sum(n for n, _ in bare_runs),
                  bare_runs_per_s=[rnd((n - 1) / s) if s else None for n, s in bare_runs])
    if rate and bare_rate:
        result["ratio_to_bare_task"] = round(rate / bare_rate, 3)

    # --- latency at a steady load -----------------------------------------------------------------------
    load = max(5.0, (rate or 50) * args.latency_share)
    since = timezone.now()
    made = produce(int(load * args.latency_seconds), rate=load)
    st = wait_drained(since, made["trades"], timeout=120)
    lat = [(s - c) * 1000 for c, s in st["rows"]]
    offered = made["trades"] / made["seconds"] if made["seconds"] else None
    log(f"latency at {offered or 0:.0f} trades/s: p50 {percentile(lat, 50) or 0:.0f} ms, "
        f"p99 {percentile(lat, 99) or 0:.0f} ms")
    result.update(match_to_settled_p50_ms=rnd(percentile(lat, 50)), match_to_settled_p99_ms=rnd(percentile(lat, 99)),
                  latency_target_per_s=rnd(load), latency_offered_per_s=rnd(offered),
                  latency_trades=st["trades"], latency_unsettled=st["trades"] - st["settled"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
