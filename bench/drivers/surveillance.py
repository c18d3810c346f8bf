"""`surveillance`: one incremental surveillance run (`oversight.surveillance.run_surveillance`, every
detector) over the trades of the last 5 seconds on top of a large trade table: seconds (goal < 1 s).

History: the bench history (`bench.drivers.history`, 1M settled trades through the product's bulk path,
dated over the past year), built by `make bench`'s `history` step or here when missing. A first run moves
the watermark past the history; then `--new` matched trades dated within the last 5 seconds (what the
exchange prints in 5 s at ~2,000 trades/s) are inserted and the second run, over those, is timed. A third
run with nothing new is timed too (`idle_seconds`): it must read no trade row.

Run alone on a small data set: `python -m bench.drivers.surveillance --trades 20000 --new 500` (needs the
bench seed, `python -m bench.drivers.seed`)."""
from __future__ import annotations

import argparse
import json
import time
from datetime import timedelta

from . import history
from .common import load_seed, log, rnd, setup_django


def insert_new_trades(count: int, instruments: list[tuple[int, int]], orgs: list[int]) -> None:
    """`count` matched trades dated within the last 5 seconds, between the seed organizations, printing
    within ±2% of ¥100 (the history's mean price, around which its prices spread ±50%): a market that
    prints normally, so the run's cost is the detectors' over 10k new trades, not writing an alert for
    most of them (with the history's ±50% spread, 60% of the new trades were off-VWAP alerts: 6,000
    alerts in 5 s, 4.5 s per run — measured 2026-12-06)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """WITH p AS (
                   SELECT g, (g * 31) %% %(ni)s AS inst, 9800 + (g * 7919) %% 401 AS price,
                          1000 * (1 + (g * 13) %% 20) AS qty, (g * 17) %% %(no)s AS b,
                          (g * 17 + 1 + (g / 7) %% (%(no)s - 1)) %% %(no)s AS s,
                          now() - make_interval(secs => (g %% 5000) / 1000.0) AS at
                     FROM generate_series(1, %(n)s::bigint) g),
               v AS (SELECT p.*, (price::bigint * qty + 999) / 1000 AS value FROM p)
               INSERT INTO trading_trade (market_id, asset_id, source, buy_order_id, sell_order_id, listing_id,
                      buyer_id, seller_id, price, quantity, value, buyer_fee, seller_fee, buyer_hold, seller_hold,
                      aggressor, status, session, rule_version, ledger_transaction_id, failure_reason, created_at)
               SELECT (%(markets)s::bigint[])[inst + 1], (%(assets)s::bigint[])[inst + 1], 'order_book', NULL,
                      NULL, NULL, (%(orgs)s::bigint[])[b + 1], (%(orgs)s::bigint[])[s + 1], price, qty, value,
                      (value * 5 + 9999) / 10000, (value * 5 + 9999) / 10000,
                      value + (value * 5 + 9999) / 10000, qty, 'buy', 'matched', to_char(at, 'YYYY-MM-DD'),
                      NULL, NULL, '', at
                 FROM v""",
            {"ni": len(instruments), "no": len(orgs), "n": count, "markets": [m for m, _ in instruments],
             "assets": [a for _, a in instruments], "orgs": orgs})
        cur.execute("ANALYZE trading_trade")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trades", type=int, default=1_000_000)
    ap.add_argument("--new", type=int, default=10_000)
    args = ap.parse_args()
    setup_django()
    from django.db import connection
    from django.utils import timezone

    from oversight.surveillance import run_surveillance

    seed = load_seed()
    log(f"history: {history.ensure(args.trades)}")
    instruments = history.instruments()
    t0 = time.perf_counter()
    run_surveillance(now=timezone.now() + timedelta(minutes=1))  # the mark moves past the history
    first_s = time.perf_counter() - t0
    insert_new_trades(args.new, instruments, seed["orgs"])
    later = timezone.now() + timedelta(minutes=2)  # past the watermark's lag
    t0 = time.perf_counter()
    found = run_surveillance(now=later)
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_surveillance(now=later + timedelta(seconds=1))
    idle = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM trading_trade")
        total = cur.fetchone()[0]
    log(f"surveillance over {args.new} new trades on {total}: {seconds:.3f} s (idle {idle:.3f} s)")
    print(json.dumps({"trades": total, "new_trades": args.new, "seconds": rnd(seconds, 3),
                      "first_run_seconds": rnd(first_s, 3), "idle_seconds": rnd(idle, 3),
                      "alerts": found}))


if __name__ == "__main__":
    main()
