"""Market data: depth by price level, recent trades and the public trade feed (anonymized), OHLCV candles
(checked against hand-computed values), and the session close: the session's VWAP becomes the
reference price and the price band is enforced around it in the next session (time controlled through
the services' `now=`)."""
from __future__ import annotations

import json
from datetime import datetime, time

import pytest
from rest_framework.test import APIClient

from accounts.actor import Actor
from core.errors import ApiError
from ledger.models import Asset
from marketplace.models import Holiday, Market, SessionClose
from marketplace.sessions import LOCAL
from trading.models import Order, Trade
from trading.orderbook.services import market_roll_session, order_cancel, order_place, price_band

from tests.support.ledger import balances

U = 1000
A = Actor.system()


def at(day, hour, minute=0, second=0):
    return datetime(2026, 6, day, hour, minute, second, tzinfo=LOCAL)  # 2026-06-01 is a Monday


@pytest.fixture
def traders(make_org, make_market, make_member, client_for, fund, fast_passwords):
    class T:
        pass

    t = T()
    t.market = make_market()
    t.buyer = make_org("enterprise", "350102", name="买方企业")
    t.seller = make_org("enterprise", "350203", name="卖方企业")
    t.third = make_org("enterprise", "350521", name="第三企业")
    for org in (t.buyer, t.seller, t.third):
        fund(org, cny=100_000_000)
        fund(org, market=t.market, quantity=100 * U)
    t.client = client_for(make_member(t.third, "viewer"))
    return t


def place(t, org, side, price, units, **kw):
    return order_place(actor=A, organization=org, market_id=t.market.id, side=side, price=price, quantity=units * U,
                       **kw)


# --- depth --------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_depth_by_price_level(traders):
    t = traders
    place(t, t.buyer, "buy", 9900, 1)
    place(t, t.third, "buy", 9900, 2)
    place(t, t.buyer, "buy", 9800, 1)
    place(t, t.seller, "sell", 10100, 3)
    place(t, t.seller, "sell", 10200, 1)
    place(t, t.third, "sell", 10200, 1)
    url = f"/api/v1/markets/{t.market.id}/book"
    r = t.client.get(url)
    assert r.status_code == 200, r.json()
    assert r.json() == {
        "market": t.market.code, "reference_price": None,
        "bids": [{"price": "99.00", "quantity": "3.000", "orders": 2},
                 {"price": "98.00", "quantity": "1.000", "orders": 1}],
        "asks": [{"price": "101.00", "quantity": "3.000", "orders": 1},
                 {"price": "102.00", "quantity": "2.000", "orders": 2}],
    }
    assert t.client.get(url, {"levels": 1}).json()["asks"] == [{"price": "101.00", "quantity": "3.000", "orders": 1}]
    # a partial fill and a cancel show up at once
    place(t, t.buyer, "buy", 10100, 2)
    low_bid = Order.objects.filter(organization=t.buyer, price=9800).get()
    order_cancel(actor=A, organization=t.buyer, order_id=low_bid.id)
    depth = t.client.get(url).json()
    assert depth["asks"][0] == {"price": "101.00", "quantity": "1.000", "orders": 1}
    assert depth["bids"] == [{"price": "99.00", "quantity": "3.000", "orders": 2}]
    assert t.client.get(url, {"levels": "x"}).json()["code"] == "validation_error"
    r = t.client.get("/api/v1/markets/987654321/book")
    assert r.status_code == 404 and r.json()["code"] == "unknown_market"


# --- trades: anonymized -------------------------------------------------------------------------------

PUBLIC_FIELDS = {"id", "market", "asset", "source", "price", "quantity", "aggressor", "time"}


@pytest.mark.django_db
def test_recent_trades_and_public_feed_name_no_party(traders):
    t = traders
    place(t, t.seller, "sell", 10000, 2)
    place(t, t.seller, "sell", 10100, 1)
    first = place(t, t.buyer, "buy", 10100, 3).trades
    place(t, t.third, "buy", 9900, 1)
    failed = place(t, t.seller, "sell", 9900, 1).trades[0]
    Trade.objects.filter(pk=failed.pk).update(status="failed")

    market_trades = t.client.get(f"/api/v1/markets/{t.market.id}/trades")
    feed = APIClient().get("/api/v1/feed/trades")  # public: no credentials
    assert market_trades.status_code == 200 and feed.status_code == 200
    for rows in (market_trades.json(), feed.json()):
        assert [row["id"] for row in rows] == [first[1].id, first[0].id]  # newest first; the failed one left out
        assert all(set(row) == PUBLIC_FIELDS for row in rows)
        assert rows[0] | {"id": 0, "time": ""} == {"id": 0, "time": "", "market": t.market.code,
                                                   "asset": t.market.asset.code, "source": "order_book",
                                                   "price": "101.00", "quantity": "1.000", "aggressor": "buy"}
    text = json.dumps(market_trades.json(), ensure_ascii=False) + json.dumps(feed.json(), ensure_ascii=False)
    for org in (t.buyer, t.seller, t.third):
        assert org.name_zh not in text and org.uscc not in text
    assert t.client.get(f"/api/v1/markets/{t.market.id}/trades", {"limit": 1}).json()[0]["id"] == first[1].id
    # the acting organization's own trades name its side, never the counterparty
    mine = t.client.get("/api/v1/trades").json()["results"]
    assert [row["side"] for row in mine] == ["buy"] and "buyer" not in mine[0] and "seller" not in mine[0]


# --- candles ------------------------------------------------------------------------------------------

def _trade_at(t, price, units, when):
    place(t, t.seller, "sell", price, units)
    (trade,) = place(t, t.buyer, "buy", price, units).trades
    Trade.objects.filter(pk=trade.pk).update(created_at=when)
    return trade


@pytest.mark.django_db
def test_candles_ohlcv(traders):
    t = traders
    _trade_at(t, 10000, 1, at(1, 10, 0, 5))
    _trade_at(t, 10200, 2, at(1, 10, 0, 30))
    _trade_at(t, 10100, 1, at(1, 10, 0, 50))
    _trade_at(t, 9900, 3, at(1, 10, 1, 10))
    _trade_at(t, 10300, 1, at(1, 11, 15))
    _trade_at(t, 10500, 2, at(2, 9, 45))
    url = f"/api/v1/markets/{t.market.id}/candles"

    def candle(start, o, h, lo, c, v, value, n):
        return {"start": start.isoformat(), "open": o, "high": h, "low": lo, "close": c, "volume": v,
                "value": value, "trades": n}

    assert t.client.get(url, {"interval": "1m"}).json() == [
        candle(at(1, 10, 0), "100.00", "102.00", "100.00", "101.00", "4.000", "405.00", 3),
        candle(at(1, 10, 1), "99.00", "99.00", "99.00", "99.00", "3.000", "297.00", 1),
        candle(at(1, 11, 15), "103.00", "103.00", "103.00", "103.00", "1.000", "103.00", 1),
        candle(at(2, 9, 45), "105.00", "105.00", "105.00", "105.00", "2.000", "210.00", 1),
    ]
    assert t.client.get(url, {"interval": "1h"}).json() == [
        candle(at(1, 10), "100.00", "102.00", "99.00", "99.00", "7.000", "702.00", 4),
        candle(at(1, 11), "103.00", "103.00", "103.00", "103.00", "1.000", "103.00", 1),
        candle(at(2, 9), "105.00", "105.00", "105.00", "105.00", "2.000", "210.00", 1),
    ]
    # days start at midnight Asia/Shanghai
    assert t.client.get(url, {"interval": "1d"}).json() == [
        candle(at(1, 0), "100.00", "103.00", "99.00", "103.00", "8.000", "805.00", 5),
        candle(at(2, 0), "105.00", "105.00", "105.00", "105.00", "2.000", "210.00", 1),
    ]
    assert len(t.client.get(url, {"interval": "1m", "limit": 2}).json()) == 2
    r = t.client.get(url, {"interval": "7m"})
    assert r.status_code == 400 and r.json()["code"] == "validation_error"


# --- sessions, VWAP close, reference price and band ---------------------------------------------------

@pytest.fixture
def windowed(make_org, make_market, fund):
    """9:30–11:30 and 13:00–15:00 on working days, ±10% band, tick 0.01 yuan."""
    market = make_market(always_open=False, price_band_bps=1000,
                         windows=[(time(9, 30), time(11, 30), "12345"), (time(13, 0), time(15, 0), "12345")])
    buyer, seller = make_org(), make_org()
    fund(buyer, cny=100_000_000)
    fund(seller, market=market, quantity=100 * U)
    return market, buyer, seller


def _place(market, org, side, price, units, now, tif="gtc"):
    return order_place(actor=A, organization=org, market_id=market.id, side=side, price=price, quantity=units * U,
                       time_in_force=tif, now=now)


def _refused(code, *args, **kw):
    with pytest.raises(ApiError) as e:
        _place(*args, **kw)
    assert e.value.code == code


@pytest.mark.django_db
def test_session_vwap_becomes_reference_and_band_applies_next_session(windowed, client_for, make_member,
                                                                      fast_passwords):
    market, buyer, seller = windowed
    cny = Asset.objects.get(code="CNY")
    _refused("outside_trading_session", market, buyer, "buy", 10000, 1, now=at(1, 9, 29))
    # first session: no band before the first close
    far = _place(market, buyer, "buy", 100, 1, now=at(1, 9, 30))
    assert far.order.status == "open" and price_band(Market.objects.get(pk=market.pk)) is None
    order_cancel(actor=A, organization=buyer, order_id=far.order.id, now=at(1, 9, 31))
    _place(market, seller, "sell", 10000, 2, now=at(1, 10))
    _place(market, seller, "sell", 10400, 1, now=at(1, 10))
    r = _place(market, buyer, "buy", 10400, 3, now=at(1, 10, 5))
    assert [(x.price, x.quantity) for x in r.trades] == [(10000, 2 * U), (10400, U)]
    assert {x.session for x in r.trades} == {"2026-06-01#0"}
    day = _place(market, buyer, "buy", 9500, 1, now=at(1, 11), tif="day").order
    gtc = _place(market, buyer, "buy", 9400, 1, now=at(1, 11)).order

    # lunch: outside the session; the morning session is closed at its first roll
    _refused("outside_trading_session", market, buyer, "buy", 10000, 1, now=at(1, 12))
    market_roll_session(market_id=market.id, now=at(1, 12))
    close = SessionClose.objects.get(market=market, session="2026-06-01#0")
    # VWAP = (2 × 100.00 + 1 × 104.00) / 3 = 101.333… → 101.33
    assert (close.open, close.high, close.low, close.close, close.volume, close.value, close.trades) == (
        10000, 10400, 10000, 10133, 3 * U, 30400, 2)
    market.refresh_from_db()
    assert market.reference_price == 10133 and market.current_session == "2026-06-01#break"
    assert Order.objects.get(pk=day.pk).status == "open"  # a day order lives through the lunch break

    # afternoon: ±10% around 101.33 → 91.20 … 111.46
    assert price_band(market) == (9120, 11146)
    _refused("price_outside_band", market, buyer, "buy", 9119, 1, now=at(1, 13))
    _refused("price_outside_band", market, seller, "sell", 11147, 1, now=at(1, 13))
    assert _place(market, buyer, "buy", 9120, 1, now=at(1, 13)).order.status == "open"
    assert _place(market, seller, "sell", 11146, 1, now=at(1, 13)).order.status == "open"
    viewer = client_for(make_member(buyer, "viewer"))
    shown = viewer.get(f"/api/v1/markets/{market.id}").json()
    assert shown["reference_price"] == "101.33" and shown["current_session"] == "2026-06-01#1"

    # after the close: day orders expire and release their escrow; GTC orders stay
    held_before = balances(buyer, cny)[1]
    market_roll_session(market_id=market.id, now=at(1, 15, 0, 1))
    day = Order.objects.get(pk=day.pk)
    assert day.status == "expired" and day.cancel_reason == "day_end"
    assert balances(buyer, cny)[1] == held_before - 9500
    assert Order.objects.get(pk=gtc.pk).status == "open"
    market.refresh_from_db()
    assert market.current_session == "2026-06-01#closed"
    # no trades in the afternoon: the reference stays the last close
    assert market.reference_price == 10133 and not SessionClose.objects.filter(session="2026-06-01#1").exists()

    # weekends and holidays are not working days
    _refused("outside_trading_session", market, buyer, "buy", 10000, 1, now=at(6, 10))
    Holiday.objects.create(date=at(3, 0).date(), name="test holiday")
    _refused("outside_trading_session", market, buyer, "buy", 10000, 1, now=at(3, 10))
    assert _place(market, buyer, "buy", 10000, 1, now=at(2, 10)).order.status == "open"


@pytest.mark.django_db
def test_always_open_market_closes_daily_and_bands_the_next_day(make_org, make_market, fund):
    market = make_market(price_band_bps=500)
    buyer, seller = make_org(), make_org()
    fund(buyer, cny=100_000_000)
    fund(seller, market=market, quantity=100 * U)
    _place(market, seller, "sell", 20000, 1, now=at(1, 23, 59))
    _place(market, buyer, "buy", 20000, 1, now=at(1, 23, 59))
    # the next calendar day is the next session: ±5% around 200.00
    _refused("price_outside_band", market, buyer, "buy", 18999, 1, now=at(2, 0, 0, 1))
    _refused("price_outside_band", market, seller, "sell", 21001, 1, now=at(2, 0, 0, 1))
    assert _place(market, buyer, "buy", 19000, 1, now=at(2, 0, 0, 1)).order.status == "open"
    assert SessionClose.objects.get(market=market, session="2026-06-01").close == 20000
