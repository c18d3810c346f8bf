"""`report`: the regulator's flow-matrix report (`oversight.reports.flow_matrix`, origin region →
destination region per right type) over 1M settled trades, as the provincial regulator sees it: seconds
(goal < 1 s).

The trades are the bench history (`bench.drivers.history`: settled trades with their orders, ledger
transactions and audit events, written through the product's bulk path `trading.bulk`, whose statements
of 100k fire every trigger on trading_trade as real inserts do), over instruments of several right types
originating in many counties, between the bench organizations (spread over Fujian's counties), dated
over the past year; `make bench` builds it in its `history` step, else this driver does.

The report is timed as loaded (summary deltas not yet folded), then after `flow_rollup()` when the
module has one (the periodic fold a deployment runs): `seconds` is the median of 3 runs after it."""
from __future__ import annotations

import argparse
import importlib
import json
import statistics
import time

from . import history
from .common import log, rnd, setup_django

REPORT = "oversight.reports.flow_matrix"
ROLLUP = "oversight.reports.flow_rollup"
SCOPE = "oversight.scope.Scope"


def _resolve(path: str):
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name), None
    except (ImportError, AttributeError) as exc:
        return None, f"{path} is not available yet ({exc.__class__.__name__}: {exc})"


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

    from accounts.models import Membership, Organization, User
    from accounts.uscc import make_uscc

    report, reason = _resolve(REPORT)
    scope_cls, scope_reason = _resolve(SCOPE)
    loaded = history.ensure(args.trades)
    log(f"history: {loaded}")
    result = {"trades": args.trades, "load_seconds": loaded["history_load_seconds"],
              "instruments": len(history.instruments()), "function": REPORT}

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
