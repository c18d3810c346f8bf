"""`report`: the regulator's flow-matrix report (`oversight.reports.flow_matrix`, origin region →
destination region per right type) over 1M settled trades, as the provincial regulator sees it: seconds
(goal < 1 s).

Trades are bulk-inserted as settled (INSERT … SELECT generate_series, in statements of 100k, so every
trigger on trading_trade fires as it would for real inserts), over instruments of several right types
originating in many counties, between the bench organizations (spread over Fujian's counties), dated
over the past year. Their `ledger_transaction_id` points into the verify scenario's journal when it
ran (the CHECK on settled trades needs one; nothing else reads it here).

The report is timed as loaded (summary deltas not yet folded), then after `flow_rollup()` when the
module has one (the periodic fold a deployment runs): `seconds` is the median of 3 runs after it."""
from __future__ import annotations

import argparse
import importlib
import json
import statistics
import time

from .common import load_seed, log, rnd, setup_django

REPORT = "oversight.reports.flow_matrix"
ROLLUP = "oversight.reports.flow_rollup"
SCOPE = "oversight.scope.Scope"
STATEMENT = 100_000
RIGHT_TYPES = ["emission", "farmland", "energy", "carbon", "power_generation"]


def _resolve(path: str):
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name), None
    except (ImportError, AttributeError) as exc:
        return None, f"{path} is not available yet ({exc.__class__.__name__}: {exc})"


def _instruments(counties: list[str]) -> list[tuple[int, int]]:
    """(market id, asset id) of report instruments: right types × origin counties."""
    from accounts.actor import Actor
    from accounts.models import Organization
    from accounts.uscc import make_uscc
    from ledger.services import asset_create
    from marketplace.services import market_create

    system = Actor.system()
    issuer = Organization.objects.create(kind="provincial_authority", name_zh="bench-report-issuer",
                                         region_id="350000", uscc=make_uscc("350000900000001"))
    out = []
    for i, origin in enumerate(counties[::4][:24]):
        rt = RIGHT_TYPES[i % len(RIGHT_TYPES)]
        extra = {"basin_id": None}
        asset = asset_create(actor=system, code=f"bench-r-{rt}-{origin}", right_type_id=rt, subtype="R", unit="u",
                             scale=3, vintage=2026, origin_region_id=origin, issuer=issuer, **extra)
        market = market_create(actor=system, asset=asset, code=f"bench-r-{i}", lot_size=1000, fee_bps=5)
        out.append((market.id, asset.id))
    return out


def insert_trades(total: int, instruments: list[tuple[int, int]], orgs: list[int]) -> float:
    from django.db import connection, transaction

    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(min(id), 1) FROM ledger_ledgertransaction "
                    "WHERE idempotency_key LIKE 'bench:verify:%%'")
        first_txn = cur.fetchone()[0]
    markets = [m for m, _ in instruments]
    assets = [a for _, a in instruments]
    t0 = time.monotonic()
    done = 0
    while done < total:
        lo, hi = done + 1, min(total, done + STATEMENT)
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                """WITH p AS (
                       SELECT g, (g * 31) %% %(ni)s AS inst, 5000 + (g * 7919) %% 10001 AS price,
                              1000 * (1 + (g * 13) %% 20) AS qty, (g * 17) %% %(no)s AS b,
                              (g * 17 + 1 + (g / 7) %% (%(no)s - 1)) %% %(no)s AS s,
                              now() - make_interval(days => (g %% 365)::int, secs => (g %% 86400)::int) AS at
                         FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g),
                   v AS (SELECT p.*, (price::bigint * qty + 999) / 1000 AS value FROM p)
                   INSERT INTO trading_trade (market_id, asset_id, source, buy_order_id, sell_order_id, listing_id,
                          buyer_id, seller_id, price, quantity, value, buyer_fee, seller_fee, buyer_hold, seller_hold,
                          aggressor, status, session, rule_version, ledger_transaction_id, failure_reason, created_at,
                          settled_at)
                   SELECT (%(markets)s::bigint[])[inst + 1], (%(assets)s::bigint[])[inst + 1], 'order_book', NULL,
                          NULL, NULL, (%(orgs)s::bigint[])[b + 1], (%(orgs)s::bigint[])[s + 1], price, qty, value,
                          (value * 5 + 9999) / 10000, (value * 5 + 9999) / 10000,
                          value + (value * 5 + 9999) / 10000, qty, 'buy', 'settled', to_char(at, 'YYYY-MM-DD'),
                          NULL, %(txn)s + g - 1, '', at, at + interval '2 seconds'
                     FROM v""",
                {"ni": len(instruments), "no": len(orgs), "lo": lo, "hi": hi, "markets": markets,
                 "assets": assets, "orgs": orgs, "txn": first_txn})
        done = hi
    with connection.cursor() as cur:
        cur.execute("ANALYZE trading_trade")
    return time.monotonic() - t0


def _timed(fn, runs: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trades", type=int, default=1_000_000)
    args = ap.parse_args()
    setup_django()
    from django.db import connection

    from accounts.models import Membership, Organization, Region, User
    from accounts.uscc import make_uscc

    seed = load_seed()
    report, reason = _resolve(REPORT)
    scope_cls, scope_reason = _resolve(SCOPE)
    counties = list(Region.objects.filter(level="county").order_by("code").values_list("code", flat=True))
    instruments = _instruments(counties)
    load_s = insert_trades(args.trades, instruments, seed["orgs"])
    log(f"{args.trades} settled trades inserted in {load_s:.0f} s")
    result = {"trades": args.trades, "load_seconds": rnd(load_s), "instruments": len(instruments),
              "function": REPORT}

    with connection.cursor() as cur:  # context: the same matrix straight from the trades, no summary
        t0 = time.perf_counter()
        cur.execute("""SELECT a.right_type_id, a.origin_region_id, o.region_id, count(*), sum(t.quantity), sum(t.value)
                         FROM trading_trade t JOIN ledger_asset a ON a.id = t.asset_id
                         JOIN accounts_organization o ON o.id = t.buyer_id
                        WHERE t.status = 'settled' GROUP BY 1, 2, 3""")
        direct_rows = len(cur.fetchall())
        result["direct_group_by_seconds"] = rnd(time.perf_counter() - t0, 3)

    if report is None or scope_cls is None:
        result.update(seconds=None, reason=reason or scope_reason)
        log(f"report: {result['reason']}")
        print(json.dumps(result))
        return
    regulator = Organization.objects.create(kind="regulator", name_zh="bench-provincial-regulator", region_id="350000",
                                            jurisdiction_id="350000", uscc=make_uscc("350000900000002"))
    user = User.objects.create(username="bench-regulator")
    membership = Membership.objects.create(user=user, organization=regulator, role="viewer")
    scope = scope_cls(membership)
    try:
        before_s, rows = _timed(lambda: report(scope), runs=1)
        result["seconds_before_rollup"] = rnd(before_s, 3)
        rollup, _ = _resolve(ROLLUP)
        if rollup is not None:
            t0 = time.perf_counter()
            rollup()
            result["rollup_seconds"] = rnd(time.perf_counter() - t0, 3)
        secs, rows = _timed(lambda: report(scope))
        result.update(seconds=rnd(secs, 3), rows=len(rows), direct_rows=direct_rows, reason=None)
        log(f"flow matrix: {secs:.3f} s ({len(rows)} rows; {before_s:.3f} s before roll-up)")
    except Exception as exc:  # noqa: BLE001 - the report module is young: record why
        result.update(seconds=None, reason=f"{REPORT} raised {exc.__class__.__name__}: {' '.join(str(exc).split())}")
        log(f"report: {result['reason']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
