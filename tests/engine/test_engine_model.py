"""The matching engine equals a simple reference matcher on random request streams, with crashes injected.

Random streams of acceptances (three organizations, GTC/DAY/IOC/FOK around one price), cancel and reduce
requests and settlements go through `order_accept` / `order_cancel_request` / `order_reduce_request`;
at random points the engine runs a few batches of random size. Crashes are injected at random: between
batches (the engine object is dropped and a new owner reloads the book from the database) and inside a
batch (an exception after the trades and orders were written and before the audit rows: the batch rolls
back). After the stream the engine drains the queue, and then:
  * the trades (buyer, seller, price, quantity, in id order) are exactly those of the reference matcher
    processing the requests in the order they were queued, and so are the resting book and every
    order's status and remaining quantity;
  * held balances equal open exposure (open orders' holds + unsettled trades' holds), and every open
    order holds exactly its worst-case remaining cost;
  * no request is left, and every accepted order was taken (none is still `accepted`).
Each example runs in a savepoint that is rolled back.
"""
from __future__ import annotations

from datetime import datetime
from unittest import mock

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.actor import Actor
from accounts.sql import AUDIT_EVENTS_INSERT
from core.errors import DomainError
from ledger.posting import forget_cached_accounts
from marketplace.sessions import LOCAL
from trading.models import Order, OrderRequest, Trade
from trading.orderbook import engine as engine_module
from trading.orderbook.engine import Engine, order_accept, order_cancel_request, order_reduce_request
from trading.orderbook.services import market_roll_session
from trading.settlement.services import trade_settle

from tests.support import holds
from tests.support.reference_matcher import ReferenceMatcher

NOW = datetime(2026, 6, 1, 10, 0, tzinfo=LOCAL)  # a Monday
SCALE, LOT, TICK, BASE = 3, 1000, 10, 1000
FEE_BPS, FEE_MIN = 25, 50
CASH, RIGHTS = 10**10, 10**7


place_op = st.tuples(st.just("place"), st.integers(0, 2), st.sampled_from(["buy", "sell"]), st.integers(0, 9),
                     st.integers(1, 5), st.sampled_from(["gtc", "gtc", "day", "ioc", "fok"]))
run_op = st.tuples(st.just("run"), st.integers(1, 4), st.integers(1, 3),
                   st.sampled_from(["none", "none", "between", "inside"]))
ops = st.lists(st.one_of(place_op, place_op, place_op, place_op, run_op, run_op,
                         st.tuples(st.just("cancel"), st.integers(0, 10**6)),
                         st.tuples(st.just("reduce"), st.integers(0, 10**6), st.integers(1, 4)),
                         st.tuples(st.just("settle"), st.integers(0, 10**6))),
               min_size=10, max_size=50)


@pytest.fixture
def world(make_org, make_market, fund, engine_mode):
    market = make_market(fee_bps=FEE_BPS, fee_min=FEE_MIN, tick_size=TICK, scale=SCALE)
    orgs = [make_org("enterprise", region) for region in ("350102", "350203", "350521")]
    for org in orgs:
        fund(org, cny=CASH)
        fund(org, market=market, quantity=RIGHTS)
    market_roll_session(market_id=market.id, now=NOW)
    return market, orgs


class Crash(Exception):
    pass


def _run(holder: dict, market_id: int, batches: int, size: int, crash: str) -> None:
    if crash == "between" or holder.get("engine") is None:
        holder["engine"] = Engine(market_id, batch=size)  # a new owner: loads the book from the database
        assert holder["engine"].acquire()
    eng = holder["engine"]
    eng.batch = size
    if crash == "inside" and OrderRequest.objects.filter(market_id=market_id).exists():
        # the batch's last write (its audit events, after the trades, orders, settlements and the queue's
        # delete) fails: everything the batch wrote rolls back
        with mock.patch.object(AUDIT_EVENTS_INSERT, "insert", side_effect=Crash):
            with pytest.raises(Crash):
                eng.step(now=NOW)
        assert "insert" not in vars(AUDIT_EVENTS_INSERT)
    for _ in range(batches):
        if not eng.step(now=NOW):
            break


def _check_holds(market, orgs):
    holds.check_holds_equal_exposure(market, orgs, scale=SCALE, fee_bps=FEE_BPS, fee_min=FEE_MIN)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(stream=ops)
def test_engine_equals_reference_with_crashes(world, stream):
    market, orgs = world
    actor = Actor.system()
    forget_cached_accounts()
    with transaction.atomic():
        ref = ReferenceMatcher(lot=LOT)
        real_id: dict[int, int] = {}
        holder: dict = {}
        for op in stream:
            kind = op[0]
            if kind == "place":
                _, who, side, level, lots, tif = op
                price, quantity = BASE + level * TICK, lots * LOT
                order = order_accept(actor=actor, organization=orgs[who], market_id=market.id, side=side,
                                     price=price, quantity=quantity, time_in_force=tif, now=NOW)
                assert order.status == "accepted"
                real_id[ref.place(who, side, price, quantity, tif)[0].seq] = order.id
            elif kind in ("cancel", "reduce"):
                if not ref.orders:
                    continue
                target = ref.orders[op[1] % len(ref.orders)]
                try:
                    if kind == "cancel":
                        order_cancel_request(actor=actor, organization=orgs[target.org], order_id=real_id[target.seq])
                    else:
                        new_remaining = min(op[2], target.remaining // LOT - 1) * LOT
                        if new_remaining <= 0:
                            continue
                        order_reduce_request(actor=actor, organization=orgs[target.org],
                                             order_id=real_id[target.seq], new_remaining=new_remaining)
                except DomainError as refusal:
                    # refused at request time: the database already shows the order closed (the reference,
                    # which is ahead of the engine, agrees) — then the reference does nothing either
                    assert refusal.code in ("order_not_open", "invalid_reduce"), refusal.code
                    assert target.status != "open" or refusal.code == "invalid_reduce"
                    continue
                if kind == "cancel":
                    ref.cancel(target.seq)
                else:
                    ref.reduce(target.seq, new_remaining)
            elif kind == "run":
                _run(holder, market.id, op[1], op[2], op[3])
            elif kind == "settle":
                pending = list(Trade.objects.filter(market=market, status="matched").order_by("id")
                               .values_list("id", flat=True))
                if pending:
                    assert trade_settle(trade_id=pending[op[1] % len(pending)], now=NOW) == "settled"
            _check_holds(market, orgs)

        _run(holder, market.id, 10**6, 50, "between")  # drain, as a fresh owner
        assert not OrderRequest.objects.filter(market=market).exists()
        assert not Order.objects.filter(market=market, status="accepted").exists()
        got = [(orgs.index(next(o for o in orgs if o.id == t.buyer_id)),
                orgs.index(next(o for o in orgs if o.id == t.seller_id)), t.price, t.quantity)
               for t in Trade.objects.filter(market=market).order_by("id")]
        assert got == ref.trades
        for m in ref.orders:
            o = Order.objects.get(pk=real_id[m.seq])
            assert (o.status, o.remaining) == (m.status, m.remaining), (m, o.status, o.remaining)
        _check_holds(market, orgs)
        holder["engine"].release()
        transaction.set_rollback(True)


def test_the_switch(settings):
    """Inline unless the setting says engine for every market, or the market is listed."""
    settings.ORDER_MATCHING, settings.ENGINE_MARKETS = "inline", []
    assert not engine_module.engine_matched(5) and not engine_module.engine_for_order(1)
    settings.ENGINE_MARKETS = [5]
    assert engine_module.engine_matched(5) and not engine_module.engine_matched(6)
    assert not engine_module.engine_matched("x")
    settings.ORDER_MATCHING, settings.ENGINE_MARKETS = "engine", []
    assert engine_module.engine_matched(6)
