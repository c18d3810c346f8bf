"""The continuous double auction, case by case: price-time priority, trades at the resting price,
partial fills, IOC, FOK, self-trade prevention, cancel and reduce, day orders, escrow arithmetic, and
what a trade leaves behind (MATCHED, outbox row, event, audit). Quantities: scale 3, lot 1 unit."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from accounts.actor import Actor
from accounts.models import AuditEvent
from core.errors import ApiError
from ledger.models import Asset
from marketplace.sessions import LOCAL
from trading.common import pricing
from trading.models import Order, SettlementOutbox, Trade, TradeEvent
from trading.orderbook.services import order_cancel, order_place, order_reduce
from trading.settlement.services import trade_settle

from tests.support.ledger import balances

U = 1000  # one unit in minor units
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=LOCAL)
A = Actor.system()


@pytest.fixture
def world(make_org, make_market, fund):
    class W:
        pass

    w = W()
    w.market = make_market()
    w.a, w.b, w.c = (make_org("enterprise", r) for r in ("350102", "350203", "350521"))
    for org in (w.a, w.b, w.c):
        fund(org, cny=100_000_000_00)
        fund(org, market=w.market, quantity=1_000 * U)
    w.cny = Asset.objects.get(code="CNY")
    return w


def place(w, org, side, price, units, tif="gtc", now=NOW):
    return order_place(actor=A, organization=org, market_id=w.market.id, side=side, price=price, quantity=units * U,
                       time_in_force=tif, now=now)


def trades_of(result, w):
    names = {w.a.id: "a", w.b.id: "b", w.c.id: "c"}
    return [(names[t.buyer_id], names[t.seller_id], t.price, t.quantity // U) for t in result.trades]


def book(w):
    open_orders = Order.objects.filter(market=w.market, status="open").order_by("id")
    return list(open_orders.values_list("side", "price", "remaining"))


@pytest.mark.django_db
def test_price_time_priority_and_resting_price(world):
    w = world
    place(w, w.a, "sell", 10100, 1)
    place(w, w.b, "sell", 10000, 1)
    place(w, w.c, "sell", 10000, 1)
    place(w, w.b, "sell", 10200, 1)
    r = place(w, w.a, "buy", 10150, 4)
    # best price first, then time; each at the resting order's price; the 102.00 ask is beyond the limit
    assert trades_of(r, w) == [("a", "b", 10000, 1), ("a", "c", 10000, 1)]
    # …then the own 101.00 ask is next: self-trade prevention cancels the remainder
    assert r.order.status == "cancelled" and r.order.cancel_reason == "self_trade_prevented"
    assert r.order.remaining == 2 * U and r.order.hold_remaining == 0
    assert book(w) == [("sell", 10100, U), ("sell", 10200, U)]
    r = place(w, w.c, "buy", 10200, 3)
    assert trades_of(r, w) == [("c", "a", 10100, 1), ("c", "b", 10200, 1)]
    assert r.order.status == "open" and r.order.remaining == U
    assert book(w) == [("buy", 10200, U)]


@pytest.mark.django_db
def test_sell_side_priority_is_highest_bid_first(world):
    w = world
    place(w, w.a, "buy", 9900, 1)
    place(w, w.b, "buy", 10000, 1)
    place(w, w.a, "buy", 10000, 1)
    r = place(w, w.c, "sell", 9900, 3)
    assert trades_of(r, w) == [("b", "c", 10000, 1), ("a", "c", 10000, 1), ("a", "c", 9900, 1)]
    assert r.order.status == "filled" and book(w) == []


@pytest.mark.django_db
def test_partial_fill_then_rest_with_exact_escrow(make_org, make_market, fund):
    market = make_market(fee_bps=3, fee_min=0)
    buyer, seller = make_org(), make_org()
    fund(buyer, cny=10_000_000)
    fund(seller, market=market, quantity=10 * U)
    cny = Asset.objects.get(code="CNY")
    order_place(actor=A, organization=seller, market_id=market.id, side="sell", price=33300, quantity=2 * U, now=NOW)
    r = order_place(actor=A, organization=buyer, market_id=market.id, side="buy", price=33333, quantity=5 * U,
                    now=NOW)
    # hold = 5 × 333.33 + ceil(0.03% of 1,666.65) = 166,665 + 50 fen; the fill moved its share to the trade
    (t,) = r.trades
    assert t.price == 33300 and t.quantity == 2 * U and t.value == 66600
    assert t.buyer_fee == pricing.ceil_div(66600 * 3, 10_000) == 20
    assert r.order.status == "open" and r.order.remaining == 3 * U
    assert r.order.hold_remaining == pricing.buy_hold_needed(limit=33333, remaining=3 * U, filled_value=66600,
                                                             scale=3, bps=3, minimum=0)
    assert t.buyer_hold + r.order.hold_remaining == 166_665 + 50
    assert balances(buyer, cny) == (10_000_000 - 166_715, 166_715)
    # settlement refunds the price improvement and unused fee reserve of the filled part
    assert trade_settle(trade_id=t.id, now=NOW) == "settled"
    assert balances(buyer, cny) == (10_000_000 - 66_620 - r.order.hold_remaining, r.order.hold_remaining)
    assert balances(buyer, market.asset) == (2 * U, 0)


@pytest.mark.django_db
def test_ioc_trades_what_it_can_and_cancels_the_rest(world):
    w = world
    place(w, w.b, "sell", 10000, 2)
    r = place(w, w.a, "buy", 10000, 5, "ioc")
    assert trades_of(r, w) == [("a", "b", 10000, 2)]
    assert r.order.status == "cancelled" and r.order.cancel_reason == "unfilled_ioc" and r.order.hold_remaining == 0
    assert balances(w.a, w.cny)[1] == r.trades[0].buyer_hold
    r = place(w, w.a, "buy", 10000, 1, "ioc")  # nothing to trade with: cancelled at once
    assert r.trades == [] and r.order.status == "cancelled" and book(w) == []


@pytest.mark.django_db
def test_fok_all_or_nothing(world):
    w = world
    place(w, w.b, "sell", 10000, 2)
    place(w, w.c, "sell", 10100, 2)
    before = balances(w.a, w.cny)
    r = place(w, w.a, "buy", 10100, 5, "fok")
    assert r.trades == [] and r.order.status == "cancelled" and r.order.cancel_reason == "unfilled_fok"
    assert r.order.remaining == 5 * U and r.order.filled_value == 0 and r.order.fees_charged == 0
    assert balances(w.a, w.cny) == before
    assert book(w) == [("sell", 10000, 2 * U), ("sell", 10100, 2 * U)]
    r = place(w, w.a, "buy", 10100, 3, "fok")
    assert trades_of(r, w) == [("a", "b", 10000, 2), ("a", "c", 10100, 1)] and r.order.status == "filled"
    assert book(w) == [("sell", 10100, U)]


@pytest.mark.django_db
def test_fok_blocked_by_own_order_trades_nothing(world):
    w = world
    place(w, w.b, "sell", 10000, 1)
    place(w, w.a, "sell", 10100, 1)
    place(w, w.c, "sell", 10200, 5)
    r = place(w, w.a, "buy", 10200, 3, "fok")
    assert r.trades == [] and r.order.status == "cancelled" and r.order.cancel_reason == "self_trade_prevented"
    assert len(book(w)) == 3 and not Trade.objects.exists()


@pytest.mark.django_db
def test_self_trade_prevention_keeps_resting_order(world):
    w = world
    own = place(w, w.a, "sell", 10000, 1).order
    r = place(w, w.a, "buy", 10100, 3)
    assert r.trades == [] and r.order.status == "cancelled" and r.order.cancel_reason == "self_trade_prevented"
    assert Order.objects.get(pk=own.pk).status == "open"
    assert balances(w.a, w.cny)[1] == 0  # the incoming order's escrow is back


@pytest.mark.django_db
def test_cancel_and_reduce_keep_priority_and_release_escrow(world):
    w = world
    first = place(w, w.a, "sell", 10000, 3).order
    place(w, w.b, "sell", 10000, 1)
    reduced = order_reduce(actor=A, organization=w.a, order_id=first.id, new_remaining=U, now=NOW)
    assert reduced.remaining == U and reduced.quantity == U and reduced.hold_remaining == U
    assert balances(w.a, w.market.asset) == (999 * U, U)
    r = place(w, w.c, "buy", 10000, 1)
    assert trades_of(r, w) == [("c", "a", 10000, 1)]  # reduced, still first in time
    for bad in (U, 0, 1500):
        with pytest.raises(ApiError) as e:
            order_reduce(actor=A, organization=w.b, order_id=Order.objects.get(organization=w.b).id,
                         new_remaining=bad, now=NOW)
        assert e.value.code == "invalid_reduce"
    buy = place(w, w.c, "buy", 9000, 4).order
    order_reduce(actor=A, organization=w.c, order_id=buy.id, new_remaining=2 * U, now=NOW)
    assert Order.objects.get(pk=buy.id).hold_remaining == 2 * 9000
    cancelled = order_cancel(actor=A, organization=w.c, order_id=buy.id, now=NOW)
    assert cancelled.status == "cancelled" and cancelled.hold_remaining == 0
    with pytest.raises(ApiError) as e:
        order_cancel(actor=A, organization=w.c, order_id=buy.id, now=NOW)
    assert e.value.code == "order_not_open"
    with pytest.raises(ApiError) as e:
        order_cancel(actor=A, organization=w.a, order_id=Order.objects.get(organization=w.b).id, now=NOW)
    assert e.value.code == "not_found"


@pytest.mark.django_db
def test_trade_is_matched_with_outbox_event_and_audit(world):
    w = world
    sell = place(w, w.b, "sell", 10000, 2).order
    r = place(w, w.a, "buy", 10000, 2)
    (t,) = r.trades
    t = Trade.objects.get(pk=t.pk)
    assert t.status == "matched" and t.source == "order_book" and t.aggressor == "buy"
    assert t.buy_order_id == r.order.id and t.sell_order_id == sell.id and t.session == "2026-06-01"
    assert SettlementOutbox.objects.get(trade=t).status == "pending"
    assert list(TradeEvent.objects.filter(trade=t).values_list("status", flat=True)) == ["matched"]
    audit = AuditEvent.objects.filter(action="order.place", object_id=str(r.order.id)).get()
    assert audit.after["trades"] == [t.id] and audit.after["status"] == "filled"
    assert Order.objects.get(pk=sell.id).status == "filled"


@pytest.mark.django_db
def test_sweep_across_batches_and_self_trade_deep_in_the_book(world):
    w = world
    for i in range(30):  # more than the first batches (4, 16, …); equal prices across batch boundaries
        place(w, (w.b, w.c)[i % 2], "sell", 10000 + (i // 7) * 10, 1)
    place(w, w.a, "sell", 10050, 1)  # behind all 30
    place(w, w.b, "sell", 10050, 5)
    r = place(w, w.a, "buy", 10100, 40)
    assert len(r.trades) == 30
    assert [t.price for t in r.trades] == [10000 + (i // 7) * 10 for i in range(30)]
    assert r.order.status == "cancelled" and r.order.cancel_reason == "self_trade_prevented"
    assert book(w) == [("sell", 10050, U), ("sell", 10050, 5 * U)]


@pytest.mark.django_db
def test_day_orders_expire_at_the_end_of_their_day(world):
    w = world
    day = place(w, w.a, "buy", 9000, 2, "day").order
    gtc = place(w, w.a, "buy", 8000, 1).order
    later = NOW + timedelta(hours=13, minutes=59)  # 23:59 the same day
    assert place(w, w.b, "sell", 11000, 1, now=later).order.status == "open"
    assert Order.objects.get(pk=day.pk).status == "open"
    place(w, w.b, "sell", 11000, 1, now=NOW + timedelta(days=1))  # the next day's first action rolls
    day = Order.objects.get(pk=day.pk)
    assert day.status == "expired" and day.cancel_reason == "day_end" and day.hold_remaining == 0
    assert Order.objects.get(pk=gtc.pk).status == "open"
    assert balances(w.a, w.cny)[1] == 8000


@pytest.mark.django_db
def test_service_refuses_malformed_input(world):
    w = world
    for kw in (dict(side="hold"), dict(time_in_force="gtd"), dict(price=0), dict(price=-5), dict(quantity=0),
               dict(price=True), dict(price=10**15, quantity=10**12 * U)):
        args = dict(side="buy", price=10000, quantity=U, time_in_force="gtc") | kw
        with pytest.raises(ApiError) as e:
            order_place(actor=A, organization=w.a, market_id=w.market.id, now=NOW, **args)
        assert e.value.code == "validation_error", kw
    with pytest.raises(ApiError) as e:
        order_place(actor=A, organization=w.a, market_id=10**12, side="buy", price=100, quantity=U, now=NOW)
    assert e.value.code == "unknown_market"
    assert not Order.objects.exists()
