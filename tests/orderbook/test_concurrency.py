"""Many clients placing, cancelling and reducing at once — on one market and across several that share
the organizations' cash accounts — with a settler working through the matched trades at the same time.
Every client is a thread with its own database connection (committed transactions, real row locks).

Afterwards: no error other than the expected business refusals surfaced (no deadlock, no serialization
failure, no constraint violation); no order was filled twice (Σ fills of an order = quantity −
remaining, never more than its quantity, status consistent with remaining and hold); no balance is
negative; held balances equal open exposure; cash and rights are conserved (what left one organization
reached another or the operator's fee income); and no book is left crossed.
"""
from __future__ import annotations

import random
import threading
from collections import defaultdict

import pytest
from django.db import connections
from django.db.models import Q, Sum

from accounts.actor import Actor
from core.errors import ApiError
from ledger.models import Account, Asset
from ledger.services import cash_withdraw
from trading.common import pricing
from trading.models import Order, Trade
from trading.orderbook.services import order_cancel, order_place, order_reduce
from trading.settlement import outbox
from trading.settlement.services import trade_settle

EXPECTED_REFUSALS = {"insufficient_balance", "order_not_open", "invalid_reduce", "not_found"}
UNSETTLED = ("matched", "pending_approval", "approved", "settling")
CASH, RIGHTS = 2_000_000_00, 400_000  # per organization: 2m yuan; 400 units of each instrument (scale 3)
LOT, TICK, BASE = 1000, 10, 10_000


@pytest.fixture
def no_broker(monkeypatch):
    """Keep settlement nudges off the shared Redis: the outbox rows are what matters here, and a stray
    message must not reach another test run's worker."""
    monkeypatch.setattr(outbox, "send_settlement", lambda trade_id, queue: True)


def _client(i, seed, orgs, markets, ops, barrier, errors, refusals):
    rng = random.Random(seed * 1000 + i)
    org = orgs[i % len(orgs)]
    actor = Actor.system()
    try:
        barrier.wait()
        for _ in range(ops):
            market = rng.choice(markets)
            r = rng.random()
            try:
                if r < 0.65:
                    order_place(actor=actor, organization=org, market_id=market.id, side=rng.choice(["buy", "sell"]),
                                price=BASE + rng.randint(-5, 5) * TICK, quantity=rng.randint(1, 6) * LOT,
                                time_in_force=rng.choice(["gtc", "gtc", "gtc", "day", "ioc", "fok"]))
                    continue
                mine = list(Order.objects.filter(organization=org, market=market, status="open")
                            .values_list("id", "remaining"))
                if not mine:
                    continue
                order_id, remaining = rng.choice(mine)
                if r < 0.9 or remaining <= LOT:
                    order_cancel(actor=actor, organization=org, order_id=order_id)
                else:
                    order_reduce(actor=actor, organization=org, order_id=order_id, new_remaining=remaining - LOT)
            except ApiError as exc:
                if exc.code not in EXPECTED_REFUSALS:
                    errors.append(f"client {i}: unexpected refusal {exc.code}")
                refusals[exc.code] += 1
    except Exception as exc:  # noqa: BLE001 - a deadlock or constraint error lands here
        errors.append(f"client {i}: {type(exc).__name__}: {exc}")
    finally:
        connections.close_all()


def _settler(done, errors, settled):
    try:
        while True:
            finished = done.is_set()
            ids = list(Trade.objects.filter(status="matched").order_by("id").values_list("id", flat=True)[:50])
            for trade_id in ids:
                status = trade_settle(trade_id=trade_id)
                if status == "settled":
                    settled.append(trade_id)
                else:
                    errors.append(f"settler: trade {trade_id} ended {status}")
            if finished and not ids:
                return
    except Exception as exc:  # noqa: BLE001
        errors.append(f"settler: {type(exc).__name__}: {exc}")
    finally:
        connections.close_all()


def run_clients(orgs, markets, *, threads, ops, seed, settle=True):
    barrier = threading.Barrier(threads)
    errors: list[str] = []
    refusals: dict[str, int] = defaultdict(int)
    settled: list[int] = []
    done = threading.Event()
    workers = [threading.Thread(target=_client, args=(i, seed, orgs, markets, ops, barrier, errors, refusals))
               for i in range(threads)]
    settler = threading.Thread(target=_settler, args=(done, errors, settled)) if settle else None
    for t in workers + ([settler] if settler else []):
        t.start()
    for t in workers:
        t.join(timeout=300)
    done.set()
    if settler:
        settler.join(timeout=300)
    assert not any(t.is_alive() for t in workers), "a client hung"
    assert not errors, errors
    return refusals, settled


def check_invariants(orgs, markets, *, cash_per_org=CASH):
    cny = Asset.objects.get(code="CNY")
    # no double fill; each order's state agrees with its fills and its escrow
    fills = defaultdict(int)
    for buy_id, sell_id, quantity in Trade.objects.values_list("buy_order_id", "sell_order_id", "quantity"):
        fills[buy_id] += quantity
        fills[sell_id] += quantity
    for o in Order.objects.select_related("market__asset"):
        assert fills[o.id] == o.quantity - o.remaining, f"order {o.id}: fills {fills[o.id]} != filled"
        assert 0 <= o.remaining <= o.quantity
        if o.status == "open":
            assert o.remaining > 0
            need = o.remaining if o.side == "sell" else pricing.buy_hold_needed(
                limit=o.price, remaining=o.remaining, filled_value=o.filled_value, scale=o.market.asset.scale,
                bps=o.market.fee_bps, minimum=o.market.fee_min)
            assert o.hold_remaining == need, f"order {o.id} holds {o.hold_remaining}, needs {need}"
        else:
            assert o.hold_remaining == 0
            assert (o.status == "filled") == (o.remaining == 0)
        assert o.time_in_force not in ("ioc", "fok") or o.status != "open"
        if o.time_in_force == "fok":
            assert o.remaining in (0, o.quantity), f"FOK order {o.id} partially filled"
    # no negative balance anywhere
    assert not Account.objects.filter(Q(available__lt=0) | Q(held__lt=0)).exclude(kind="issuance").exists()
    # held = open exposure, per organization and asset
    for org in orgs:
        held = dict(Account.objects.filter(organization=org, kind="participant").values_list("asset_id", "held"))
        open_orders = Order.objects.filter(organization=org, status="open")
        unsettled = Trade.objects.filter(status__in=UNSETTLED)
        cash_exposure = ((open_orders.filter(side="buy").aggregate(s=Sum("hold_remaining"))["s"] or 0)
                         + (unsettled.filter(buyer=org).aggregate(s=Sum("buyer_hold"))["s"] or 0))
        assert held.get(cny.id, 0) == cash_exposure, f"org {org.id}: held CNY != exposure"
        for m in markets:
            rights_exposure = ((open_orders.filter(side="sell", market=m).aggregate(s=Sum("hold_remaining"))["s"] or 0)
                               + (unsettled.filter(seller=org, market=m).aggregate(s=Sum("seller_hold"))["s"] or 0))
            assert held.get(m.asset_id, 0) == rights_exposure, f"org {org.id}: held {m.code} != exposure"
    # conservation: cash between participants and the fee account; rights between participants
    accounts = Account.objects.filter(Q(organization__in=orgs, kind="participant") | Q(kind="fee_income"))
    cash = accounts.filter(asset=cny).aggregate(a=Sum("available"), h=Sum("held"))
    assert cash["a"] + cash["h"] == cash_per_org * len(orgs)
    for m in markets:
        rights = accounts.filter(asset=m.asset).aggregate(a=Sum("available"), h=Sum("held"))
        assert rights["a"] + rights["h"] == RIGHTS * len(orgs)
    # fees collected = fees charged on settled trades
    fees = Trade.objects.filter(status="settled").aggregate(b=Sum("buyer_fee"), s=Sum("seller_fee"))
    fee_income = Account.objects.filter(kind="fee_income", asset=cny).aggregate(s=Sum("available"))["s"] or 0
    assert fee_income == (fees["b"] or 0) + (fees["s"] or 0)
    # books are never crossed (self-trade prevention cancels instead of resting across)
    for m in markets:
        book = Order.objects.filter(market=m, status="open")
        bid = book.filter(side="buy").order_by("-price").values_list("price", flat=True).first()
        ask = book.filter(side="sell").order_by("price").values_list("price", flat=True).first()
        assert bid is None or ask is None or bid < ask, f"{m.code} crossed: {bid} >= {ask}"


def _world(make_org, make_market, fund, n_markets, n_orgs):
    markets = [make_market(fee_bps=20, fee_min=100, tick_size=TICK) for _ in range(n_markets)]
    orgs = [make_org("enterprise", "350102") for _ in range(n_orgs)]
    for org in orgs:
        fund(org, cny=CASH)
        for m in markets:
            fund(org, market=m, quantity=RIGHTS)
    return orgs, markets


@pytest.mark.django_db(transaction=True)
def test_many_clients_one_market(make_org, make_market, fund, operator_org, no_broker):
    orgs, markets = _world(make_org, make_market, fund, 1, 5)
    refusals, settled = run_clients(orgs, markets, threads=10, ops=40, seed=1)
    check_invariants(orgs, markets)
    assert Trade.objects.count() > 20, "the streams should trade"
    assert settled


@pytest.mark.django_db(transaction=True)
def test_many_clients_several_markets(make_org, make_market, fund, operator_org, no_broker):
    orgs, markets = _world(make_org, make_market, fund, 3, 6)
    refusals, settled = run_clients(orgs, markets, threads=12, ops=40, seed=2)
    check_invariants(orgs, markets)
    assert Trade.objects.values("market").distinct().count() == 3


@pytest.mark.django_db(transaction=True)
def test_contention_on_few_accounts_without_settlement(make_org, make_market, fund, operator_org, no_broker):
    """Two organizations, eight clients: every transaction fights over the same four accounts and one
    market row; scarce cash makes insufficient-balance refusals race with fills and releases."""
    markets = [make_market(fee_bps=20, fee_min=100, tick_size=TICK)]
    orgs = [make_org("enterprise", "350102") for _ in range(2)]
    for org in orgs:
        fund(org, cny=CASH)
        fund(org, market=markets[0], quantity=RIGHTS)
    # leave each organization only a few orders' worth of cash
    for org in orgs:
        cash_withdraw(actor=Actor.system(), organization=org, amount=CASH - 4_000_00, bank_reference=f"w{org.id}",
                      idempotency_key=f"w{org.id}")
    refusals, _ = run_clients(orgs, markets, threads=8, ops=40, seed=3, settle=False)
    assert refusals["insufficient_balance"] > 0
    check_invariants(orgs, markets, cash_per_org=4_000_00)
