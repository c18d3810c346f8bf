"""Reads of trading: an organization's orders and trades, and public market data (depth, recent
trades, candles) that never names the parties."""
from __future__ import annotations

from django.db import connection
from django.db.models import Q, QuerySet

from core.money import from_minor
from ledger.models import Asset
from marketplace.models import Market
from trading.models import Order, Trade, TradeEvent
from trading.orderbook.sql import BOOK_DEPTH, CANDLES

CANDLE_INTERVALS = {"1m": "1 minute", "5m": "5 minutes", "15m": "15 minutes", "1h": "1 hour", "1d": "1 day"}


def orders_of(organization_id: int) -> QuerySet[Order]:
    return Order.objects.filter(organization_id=organization_id).select_related("market__asset").order_by("-id")


def trades_of(organization_id: int) -> QuerySet[Trade]:
    return (Trade.objects.filter(Q(buyer_id=organization_id) | Q(seller_id=organization_id))
            .select_related("market").order_by("-id"))


def trade_events_of(organization_id: int) -> QuerySet[TradeEvent]:
    return (TradeEvent.objects.filter(Q(trade__buyer_id=organization_id) | Q(trade__seller_id=organization_id))
            .order_by("-id"))


def asset_scales(trades) -> dict[int, int]:
    ids = {t.asset_id for t in trades}
    return dict(Asset.objects.filter(pk__in=ids).values_list("id", "scale"))


def book_depth(market: Market, levels: int = 10) -> dict:
    """Aggregated open quantity and order count per price level, best first, `levels` per side. Each
    side is read through its partial index (order_book_bids / order_book_asks)."""
    scale = market.asset.scale
    out = {"market": market.code, "reference_price": None if market.reference_price is None
           else from_minor(market.reference_price, 2), "bids": [], "asks": []}
    with connection.cursor() as cur:
        for side, key in (("buy", "bids"), ("sell", "asks")):
            BOOK_DEPTH[side].run(cur, {"market": market.id, "levels": levels})
            out[key] = [{"price": from_minor(p, 2), "quantity": from_minor(q, scale), "orders": n}
                        for p, q, n in cur.fetchall()]
    return out


PUBLIC_TRADE_STATUSES = ["matched", "pending_approval", "approved", "settling", "settled"]


def recent_trades(market: Market | None = None, limit: int = 50) -> list[dict]:
    """Recent trades, newest first, anonymized: no party, order or fee is named."""
    qs = Trade.objects.filter(status__in=PUBLIC_TRADE_STATUSES)
    if market is not None:
        qs = qs.filter(market=market)
    rows = list(qs.select_related("market").order_by("-id")[:limit])
    assets = {a: (code, scale) for a, code, scale in
              Asset.objects.filter(pk__in={t.asset_id for t in rows}).values_list("id", "code", "scale")}
    return [{"id": t.id, "market": t.market.code if t.market else "", "asset": assets[t.asset_id][0],
             "source": t.source, "price": from_minor(t.price, 2),
             "quantity": from_minor(t.quantity, assets[t.asset_id][1]), "aggressor": t.aggressor,
             "time": t.created_at}
            for t in rows]


def candles(market: Market, interval: str, limit: int = 200) -> list[dict]:
    """OHLCV per `interval` bucket (aligned to Asia/Shanghai midnight), oldest first, the latest `limit`
    buckets that have trades. Open/close are the first/last trade by sequence; volume in the asset's
    unit, value in yuan. Failed and rejected trades do not count."""
    step = CANDLE_INTERVALS[interval]
    scale = market.asset.scale
    with connection.cursor() as cur:
        CANDLES.run(cur, {"step": step, "market": market.id, "limit": limit})
        rows = cur.fetchall()
    return [{"start": b, "open": from_minor(o, 2), "high": from_minor(h, 2), "low": from_minor(lo, 2),
             "close": from_minor(c, 2), "volume": from_minor(v, scale), "value": from_minor(val, 2), "trades": n}
            for b, o, h, lo, c, v, val, n in reversed(rows)]
