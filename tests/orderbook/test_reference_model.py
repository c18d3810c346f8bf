"""The order book equals a simple in-memory reference model on random order streams, and the ledger's
held balances equal open exposure after every step.

The model (`tests.support.reference_matcher`, shared with the engine's test) is deliberately naive:
price-time priority, trades at the resting order's price, partial fills, self-trade prevention
cancelling the incoming remainder, IOC cancelling what does not trade at once, FOK trading all or
nothing, cancel and reduce (keeping time priority). Random streams mix three organizations placing
GTC/DAY/IOC/FOK orders around one price, cancelling and reducing their open orders and settling trades.
After every step:
  * the real service printed the same trades (buyer, seller, price, quantity, in order) and left the
    same resting book (order, remaining) and the same order status as the model;
  * per organization, held CNY = Σ open buy orders' hold_remaining + Σ unsettled trades' buyer_hold,
    held rights = Σ open sell orders' hold_remaining + Σ unsettled trades' seller_hold;
  * every open order's hold is exactly its worst-case remaining cost, and each organization's total
    (available + held) changed only by what settled trades moved.
Each example runs in a savepoint that is rolled back, so examples start from the same funded world.
"""
from __future__ import annotations

from datetime import datetime

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.actor import Actor
from core.errors import ApiError
from ledger.models import Account, Asset
from ledger.posting import forget_cached_accounts
from marketplace.sessions import LOCAL
from trading.models import Order, Trade
from trading.orderbook.services import market_roll_session, order_cancel, order_place, order_reduce
from trading.settlement.services import trade_settle

from tests.support import holds
from tests.support.reference_matcher import ReferenceMatcher

NOW = datetime(2026, 6, 1, 10, 0, tzinfo=LOCAL)  # a Monday
SCALE, LOT, TICK, BASE = 3, 1000, 10, 1000
FEE_BPS, FEE_MIN = 25, 50
CASH, RIGHTS = 10**10, 10**7


place_op = st.tuples(st.just("place"), st.integers(0, 2), st.sampled_from(["buy", "sell"]), st.integers(0, 9),
                     st.integers(1, 5), st.sampled_from(["gtc", "gtc", "day", "ioc", "fok"]))
ops = st.lists(st.one_of(place_op, place_op, place_op, place_op,
                         st.tuples(st.just("cancel"), st.integers(0, 10**6)),
                         st.tuples(st.just("reduce"), st.integers(0, 10**6), st.integers(1, 4)),
                         st.tuples(st.just("settle"), st.integers(0, 10**6))),
               min_size=10, max_size=60)


@pytest.fixture
def world(make_org, make_market, fund):
    market = make_market(fee_bps=FEE_BPS, fee_min=FEE_MIN, tick_size=TICK, scale=SCALE)
    orgs = [make_org("enterprise", region) for region in ("350102", "350203", "350521")]
    for org in orgs:
        fund(org, cny=CASH)
        fund(org, market=market, quantity=RIGHTS)
    market_roll_session(market_id=market.id, now=NOW)
    return market, orgs


def check_holds_equal_exposure(market, orgs):
    holds.check_holds_equal_exposure(market, orgs, scale=SCALE, fee_bps=FEE_BPS, fee_min=FEE_MIN)


def check_totals(market, orgs):
    """available + held per organization moved only by settled trades."""
    cny = Asset.objects.get(code="CNY")
    for org in orgs:
        settled = Trade.objects.filter(status="settled")
        bought = settled.filter(buyer=org).aggregate(v=Sum("value"), f=Sum("buyer_fee"), q=Sum("quantity"))
        sold = settled.filter(seller=org).aggregate(v=Sum("value"), f=Sum("seller_fee"), q=Sum("quantity"))
        cash = Account.objects.get(organization=org, asset=cny, kind="participant")
        rights = Account.objects.get(organization=org, asset=market.asset, kind="participant")
        assert cash.available + cash.held == (CASH - (bought["v"] or 0) - (bought["f"] or 0)
                                              + (sold["v"] or 0) - (sold["f"] or 0))
        assert rights.available + rights.held == RIGHTS + (bought["q"] or 0) - (sold["q"] or 0)


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(stream=ops)
def test_matching_equals_reference_model(world, operator_org, stream):
    market, orgs = world
    actor = Actor.system()
    forget_cached_accounts()  # accounts opened by an earlier, rolled-back example must not be remembered
    with transaction.atomic():
        model = ReferenceMatcher(lot=LOT)
        real_id: dict[int, int] = {}  # model seq -> order id
        for op in stream:
            kind = op[0]
            if kind == "place":
                _, who, side, level, lots, tif = op
                price, quantity = BASE + level * TICK, lots * LOT
                result = order_place(actor=actor, organization=orgs[who], market_id=market.id, side=side, price=price,
                                     quantity=quantity, time_in_force=tif, now=NOW)
                expected, expected_trades = model.place(who, side, price, quantity, tif)
                real_id[expected.seq] = result.order.id
                got = [(orgs.index(next(o for o in orgs if o.id == t.buyer_id)),
                        orgs.index(next(o for o in orgs if o.id == t.seller_id)), t.price, t.quantity)
                       for t in result.trades]
                assert got == expected_trades, op
                assert result.order.status == expected.status, op
                assert result.order.remaining == expected.remaining, op
            elif kind == "cancel":
                open_orders = model.open()
                if not open_orders:
                    continue
                target = open_orders[op[1] % len(open_orders)]
                other = orgs[(target.org + 1) % 3]
                with pytest.raises(ApiError) as err:  # another organization's order is invisible
                    order_cancel(actor=actor, organization=other, order_id=real_id[target.seq], now=NOW)
                assert err.value.code == "not_found"
                order_cancel(actor=actor, organization=orgs[target.org], order_id=real_id[target.seq], now=NOW)
                target.status = "cancelled"
            elif kind == "reduce":
                candidates = [o for o in model.open() if o.remaining > LOT]
                if not candidates:
                    continue
                target = candidates[op[1] % len(candidates)]
                new_remaining = min(op[2], target.remaining // LOT - 1) * LOT
                order_reduce(actor=actor, organization=orgs[target.org], order_id=real_id[target.seq],
                             new_remaining=new_remaining, now=NOW)
                target.remaining = new_remaining
            elif kind == "settle":
                pending = list(Trade.objects.filter(market=market, status="matched").order_by("id")
                               .values_list("id", flat=True))
                if pending:
                    assert trade_settle(trade_id=pending[op[1] % len(pending)], now=NOW) == "settled"

            book = sorted(Order.objects.filter(market=market, status="open").values_list("id", "remaining"))
            assert book == sorted((real_id[o.seq], o.remaining) for o in model.open()), op
            check_holds_equal_exposure(market, orgs)
        check_totals(market, orgs)
        transaction.set_rollback(True)
