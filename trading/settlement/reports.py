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
        cur.execute(f"""
            WITH batch AS (
                SELECT t.*, o.not_before, (coalesce(o.not_before, t.created_at) AT TIME ZONE %s)::date AS day
                  FROM trading_trade t LEFT JOIN trading_settlementoutbox o ON o.trade_id = t.id
                 WHERE t.created_at >= %s AND t.created_at < %s)
            SELECT b.market_id, m.code, coalesce(m.settlement_mode, 'rtgs'), m.eod_cutoff, b.asset_id, a.code, a.scale,
                   count(*),
                   count(*) FILTER (WHERE b.status = 'settled'),
                   coalesce(sum(b.value) FILTER (WHERE b.status = 'settled'), 0),
                   coalesce(sum(b.quantity) FILTER (WHERE b.status = 'settled'), 0),
                   coalesce(sum(b.buyer_fee) FILTER (WHERE b.status = 'settled'), 0),
                   coalesce(sum(b.seller_fee) FILTER (WHERE b.status = 'settled'), 0),
                   count(*) FILTER (WHERE b.status IN ('failed', 'rejected')),
                   coalesce(sum(b.value) FILTER (WHERE b.status IN ('failed', 'rejected')), 0),
                   count(*) FILTER (WHERE b.status NOT IN ('settled', 'failed', 'rejected')),
                   coalesce(sum(b.value) FILTER (WHERE b.status NOT IN ('settled', 'failed', 'rejected')), 0),
                   min(b.not_before), min(b.settled_at), max(b.settled_at),
                   (array_agg(json_build_array(b.id, b.status, b.value, b.failure_reason) ORDER BY b.id)
                      FILTER (WHERE b.status IN ('failed', 'rejected')))[1:{FAILED_LISTED}]
              FROM batch b
              JOIN ledger_asset a ON a.id = b.asset_id
              LEFT JOIN marketplace_market m ON m.id = b.market_id
             WHERE b.day = %s {market_filter}
             GROUP BY b.market_id, m.code, m.settlement_mode, m.eod_cutoff, b.asset_id, a.code, a.scale
             ORDER BY m.code NULLS LAST, a.code""", params)
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
