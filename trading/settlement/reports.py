"""Read side of settlement: the daily batch report.

A batch is one market's trades of one settlement day. For an end-of-day market the day is the local
date of the cut-off the trade waited for (`SettlementOutbox.not_before`); for a real-time market (and
for listing trades, grouped by instrument) it is the local date the trade was matched. Each trade is
still its own ledger transaction; the batch is a view over them: how many, how much settled, the fees,
what failed (and why) and what is still pending.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.money import from_minor
from trading.settlement.sql import settlement_batches_sql

FAILED_LISTED = 100


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (timezone.make_aware(datetime.combine(day - timedelta(days=1), time.min), tz),
            timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min), tz))


def settlement_batches(*, day: date, market_id: int | None = None) -> list[dict]:
    lo, hi = _day_bounds(day)  # an end-of-day trade of `day` was matched after the previous day's cut-off
    params = [settings.TIME_ZONE, lo, hi, day]
    market_filter = ""
    if market_id is not None:
        market_filter = "AND b.market_id = %s"
        params.append(market_id)
    with connection.cursor() as cur:
        cur.execute(settlement_batches_sql(market_filter, FAILED_LISTED), params)
        rows = cur.fetchall()
    out = []
    for (market, code, mode, cutoff, _asset_id, asset_code, scale, n, settled, settled_value, settled_qty, buyer_fees,
         seller_fees, failed, failed_value, pending, pending_value, cutoff_at, first, last, failed_rows) in rows:
        out.append({
            "date": day.isoformat(), "market": market, "market_code": code, "asset": asset_code,
            "settlement_mode": mode, "cutoff": cutoff_at or (cutoff and timezone.make_aware(
                datetime.combine(day, cutoff), timezone.get_current_timezone())),
            "trades": n, "settled": settled, "settled_value": from_minor(settled_value, 2),
            "settled_quantity": from_minor(settled_qty, scale),
            "buyer_fees": from_minor(buyer_fees, 2), "seller_fees": from_minor(seller_fees, 2),
            "fees": from_minor(buyer_fees + seller_fees, 2),
            "failed": failed, "failed_value": from_minor(failed_value, 2),
            "pending": pending, "pending_value": from_minor(pending_value, 2),
            "first_settled_at": first, "last_settled_at": last,
            "failed_trades": [{"id": i, "status": s, "value": from_minor(v, 2), "reason": r}
                              for i, s, v, r in (failed_rows or [])],
        })
    return out
