"""Reads of the console that no API offers in one piece: the market overview (last price, change and
today's volume per market) and bounded chart series. Every query is bounded by an index range, never a
scan of the whole trade history (the bench database has 1M trades):

* "today" starts at the first trade id created since local midnight (one probe of the created_at index);
  a market's last price is its newest trade (index (market, id), one row), its previous close the newest
  trade below that id, and its day volume a sum over the (market, id) range of today's trades;
* candles read the (market, id) range of the last `days` days, found the same way.
The regulator's charts read the flow roll-ups (`oversight.reports`), whose cost depends on the number of
groups, not of trades.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from accounts.models import Region
from core.money import from_minor
from marketplace.models import Market
from trading.models import Trade

COUNTED = "status NOT IN ('failed', 'rejected')"
TRADES = Trade._meta.db_table  # trading's table, named through its model (tests/platform/test_sql_ownership.py)


def local_midnight(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now())
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def first_trade_id_since(since: datetime) -> int | None:
    with connection.cursor() as cur:
        cur.execute(f"SELECT id FROM {TRADES} WHERE created_at >= %s ORDER BY created_at, id LIMIT 1", [since])
        row = cur.fetchone()
    return row[0] if row else None


def market_overview() -> list[dict]:
    """Every market with its last price, change against the previous day's close and today's volume."""
    markets = list(Market.objects.select_related("asset").order_by("code"))
    today_id = first_trade_id_since(local_midnight())
    out = []
    with connection.cursor() as cur:
        for m in markets:
            cur.execute(f"""SELECT price FROM {TRADES} WHERE market_id = %s AND {COUNTED}
                            ORDER BY id DESC LIMIT 1""", [m.id])
            last = cur.fetchone()
            prev = None
            volume = value = trades = 0
            if today_id is not None:
                cur.execute(f"""SELECT price FROM {TRADES} WHERE market_id = %s AND id < %s AND {COUNTED}
                                ORDER BY id DESC LIMIT 1""", [m.id, today_id])
                prev = cur.fetchone()
                cur.execute(f"""SELECT coalesce(sum(quantity), 0), coalesce(sum(value), 0), count(*)
                                  FROM {TRADES} WHERE market_id = %s AND id >= %s AND {COUNTED}""",
                            [m.id, today_id])
                volume, value, trades = cur.fetchone()
            elif last is not None:
                prev = last
            last_price = last[0] if last else None
            change = change_pct = None
            if last_price is not None and prev is not None:
                change = last_price - prev[0]
                change_pct = f"{change * 100 / prev[0]:+.2f}"
            out.append({"market": m, "asset": m.asset, "last": last_price, "change": change, "change_pct": change_pct,
                        "volume": int(volume), "value": int(value), "trades": int(trades)})
    return out


def candle_series(market: Market, *, days: int = 60, interval: str = "1 day") -> list[dict]:
    """Daily OHLCV of the last `days` days (Asia/Shanghai days), oldest first."""
    start_id = first_trade_id_since(local_midnight() - timedelta(days=days))
    if start_id is None:
        return []
    scale = market.asset.scale
    with connection.cursor() as cur:
        cur.execute(f"""
            SELECT date_bin(%s::interval, created_at, TIMESTAMPTZ '2000-01-03 00:00:00+08') AS bucket,
                   (array_agg(price ORDER BY id))[1], max(price), min(price),
                   (array_agg(price ORDER BY id DESC))[1], sum(quantity), count(*)
              FROM {TRADES}
             WHERE market_id = %s AND id >= %s AND {COUNTED}
             GROUP BY bucket ORDER BY bucket""", [interval, market.id, start_id])
        rows = cur.fetchall()
    return [{"day": timezone.localtime(b).date().isoformat(), "open": from_minor(o, 2), "close": from_minor(c, 2),
             "low": from_minor(lo, 2), "high": from_minor(h, 2), "volume": from_minor(v, scale), "trades": n}
            for b, o, h, lo, c, v, n in rows]


def region_names(codes) -> dict[str, str]:
    from django.utils import translation

    en = (translation.get_language() or "").startswith("en")
    return {code: (en and name_en) or name_zh
            for code, name_zh, name_en in Region.objects.filter(code__in=set(codes)).values_list("code", "name_zh",
                                                                                              "name_en")}
