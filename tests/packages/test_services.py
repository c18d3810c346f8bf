"""Package bids through the service: a package fills completely and settles as one ledger transaction,
or buys nothing, releases its whole escrow and is recorded unfilled (with the reason and the leg)."""
from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.actor import Actor
from core.errors import DomainError
from ledger.models import Account, LedgerTransaction
from marketplace.models import MarketStatus
from trading.models import Listing, Order, Package, Trade
from trading.packages.services import LegSpec, package_place

from .conftest import UNIT, YUAN

pytestmark = pytest.mark.django_db


def _place(w, legs, **kw):
    return package_place(actor=Actor.system(), buyer=w.buyer, legs=legs, **kw)


def _snapshot(w):
    """Everything a package may change: balances of every account, resting orders, the listing."""
    accounts = dict((pk, (a, h)) for pk, a, h in Account.objects.values_list("pk", "available", "held"))
    orders = dict((o[0], o[1:]) for o in Order.objects.filter(side="sell").values_list(
        "pk", "remaining", "hold_remaining", "status", "filled_value", "fees_charged"))
    listing = Listing.objects.values_list("remaining", "hold_remaining", "status").get(pk=w.listing.pk)
    return accounts, orders, listing, Trade.objects.count()


def _cash_total():
    return Account.objects.filter(asset__code="CNY").exclude(kind="issuance").aggregate(
        s=Sum("available") + Sum("held"))["s"]


def test_a_package_fills_every_leg_and_settles_as_one_ledger_transaction(pworld):
    w = pworld
    so2, nox, energy = w.markets
    before_cash = w.cash(w.buyer)
    result = _place(w, [LegSpec(market_id=so2.id, quantity=20 * UNIT, limit_price=102 * YUAN),
                        LegSpec(market_id=nox.id, quantity=15 * UNIT, limit_price=105 * YUAN),
                        LegSpec(market_id=energy.id, quantity=5 * UNIT, limit_price=100 * YUAN),
                        LegSpec(listing_id=w.listing.id, quantity=10 * UNIT, limit_price=99 * YUAN)])
    p = result.package
    assert p.status == "filled" and p.reason == "" and p.settle_transaction_id
    trades = list(Trade.objects.filter(buyer=w.buyer).order_by("id"))
    assert trades == result.trades and len(trades) == 6  # 10@100 + 10@101; 10@100 + 5@101; 5@100; 10@98
    assert {t.status for t in trades} == {"settled"}
    assert {t.ledger_transaction_id for t in trades} == {p.settle_transaction_id}
    assert [(t.price // YUAN, t.quantity // UNIT) for t in trades if t.market_id == so2.id] == [(100, 10), (101, 10)]
    settle = LedgerTransaction.objects.get(pk=p.settle_transaction_id)
    assert settle.kind == "settle"
    # the buyer got every right and paid exactly the values plus its fees; nothing stays held
    assert w.rights(w.buyer, so2.asset_id) == (30 * UNIT, 0)  # 20 from the book + 10 from the listing
    assert w.rights(w.buyer, nox.asset_id) == (15 * UNIT, 0)
    assert w.rights(w.buyer, energy.asset_id) == (5 * UNIT, 0)
    paid = sum(t.value + t.buyer_fee for t in trades)
    assert p.paid == paid
    assert w.cash(w.buyer) == (before_cash[0] - paid, 0)
    # legs record the whole quantity; market legs have a filled FOK order in the book's history
    legs = list(p.legs.order_by("position"))
    assert [leg.filled_quantity == leg.quantity for leg in legs] == [True] * 4
    order = Order.objects.get(pk=legs[0].order_id)
    assert (order.status, order.remaining, order.hold_remaining, order.time_in_force) == ("filled", 0, 0, "fok")
    # the resting asks were consumed best price first
    assert not Order.objects.filter(market=so2, side="sell", price=100 * YUAN, status="open").exists()
    assert Listing.objects.get(pk=w.listing.pk).remaining == 20 * UNIT


def test_a_leg_that_cannot_fill_leaves_everything_as_it_was(pworld):
    w = pworld
    so2, nox, _ = w.markets
    before = _snapshot(w)
    result = _place(w, [LegSpec(market_id=so2.id, quantity=20 * UNIT, limit_price=102 * YUAN),
                        LegSpec(listing_id=w.listing.id, quantity=10 * UNIT),
                        # 25 units within 102 yuan are not there: 10@100 + 10@101 + 10@102 = 30, but 105 is over
                        LegSpec(market_id=nox.id, quantity=35 * UNIT, limit_price=104 * YUAN)])
    p = result.package
    assert (p.status, p.reason, p.failed_leg) == ("unfilled", "package_leg_not_fillable", 2)
    assert result.trades == [] and p.paid == 0
    after = _snapshot(w)
    assert after[1:] == before[1:]  # no order, listing or trade changed
    changed = {pk for pk in after[0] if after[0][pk] != before[0].get(pk, (0, 0))}
    assert not changed, "an unfilled package leaves every balance as it was"
    hold = LedgerTransaction.objects.get(pk=p.hold_transaction_id)
    release = LedgerTransaction.objects.get(pk=p.release_transaction_id)
    assert (hold.kind, release.kind) == ("hold", "release")
    assert [leg.filled_quantity for leg in p.legs.all()] == [0, 0, 0]


def test_total_limit_and_listing_limit(pworld):
    w = pworld
    so2 = w.markets[0]
    over = _place(w, [LegSpec(market_id=so2.id, quantity=10 * UNIT, limit_price=102 * YUAN)],
                  total_limit=1000 * YUAN).package
    assert (over.status, over.reason, over.held) == ("unfilled", "package_over_total_limit", 1000 * YUAN)
    above = _place(w, [LegSpec(listing_id=w.listing.id, quantity=10 * UNIT, limit_price=97 * YUAN)]).package
    assert (above.status, above.reason, above.failed_leg) == ("unfilled", "package_leg_above_limit", 0)
    ok = _place(w, [LegSpec(market_id=so2.id, quantity=10 * UNIT, limit_price=102 * YUAN)],
                total_limit=1003 * YUAN).package  # 1,000 + fee 2.00
    assert ok.status == "filled" and ok.paid == 1002 * YUAN


def test_a_halted_market_or_closed_listing_refuses_the_whole_package(pworld):
    w = pworld
    so2, nox, _ = w.markets
    nox.status = MarketStatus.HALTED
    nox.save(update_fields=["status"])
    p = _place(w, [LegSpec(market_id=so2.id, quantity=1 * UNIT, limit_price=102 * YUAN),
                   LegSpec(market_id=nox.id, quantity=1 * UNIT, limit_price=102 * YUAN)]).package
    assert (p.status, p.reason, p.failed_leg) == ("unfilled", "market_halted", 1)
    assert w.rights(w.buyer, so2.asset_id) == (0, 0)


def test_bad_input_and_missing_funds_write_nothing(pworld, make_org, fund):
    w = pworld
    so2 = w.markets[0]
    with pytest.raises(DomainError) as e:
        _place(w, [LegSpec(market_id=so2.id, quantity=UNIT, limit_price=YUAN),
                   LegSpec(market_id=so2.id, quantity=UNIT, limit_price=YUAN)])
    assert e.value.code == "invalid_package"
    with pytest.raises(DomainError) as e:
        _place(w, [LegSpec(market_id=so2.id, quantity=UNIT)])
    assert e.value.code == "package_unbounded"
    poor = make_org("enterprise", "350102")
    fund(poor, cny=50 * YUAN)
    with pytest.raises(DomainError) as e:
        package_place(actor=Actor.system(), buyer=poor, legs=[LegSpec(market_id=so2.id, quantity=UNIT,
                                                                      limit_price=102 * YUAN)])
    assert e.value.code == "insufficient_balance"
    assert not Package.objects.exists()


def test_own_asks_are_passed_over(pworld):
    w = pworld
    so2 = w.markets[0]
    p = package_place(actor=Actor.system(), buyer=w.sellers[0],
                      legs=[LegSpec(market_id=so2.id, quantity=10 * UNIT, limit_price=101 * YUAN)]).package
    assert p.status == "filled"
    assert set(Trade.objects.filter(buyer=w.sellers[0]).values_list("seller_id", "price")) == {
        (w.sellers[1].id, 101 * YUAN)}


legs_strategy = st.lists(
    st.tuples(st.sampled_from(["so2", "nox", "energy", "listing"]), st.integers(1, 45), st.integers(95, 106)),
    min_size=1, max_size=4, unique_by=lambda leg: leg[0])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(legs=legs_strategy, total=st.one_of(st.none(), st.integers(500, 15_000)))
def test_never_partly_filled_escrow_released_in_full_and_conserved(pworld, legs, total):
    w = pworld
    targets = {"so2": w.markets[0], "nox": w.markets[1], "energy": w.markets[2]}
    specs = [LegSpec(listing_id=w.listing.id, quantity=q * UNIT, limit_price=p * YUAN) if name == "listing"
             else LegSpec(market_id=targets[name].id, quantity=q * UNIT, limit_price=p * YUAN)
             for name, q, p in legs]
    with transaction.atomic():
        before = _snapshot(w)
        cash_total = _cash_total()
        rights_before = {m.asset_id: w.rights(w.buyer, m.asset_id)[0] for m in w.markets}
        result = _place(w, specs, total_limit=None if total is None else total * YUAN)
        p = result.package
        after = _snapshot(w)
        assert _cash_total() == cash_total  # conservation: cash only moved between participants and fees
        assert w.cash(w.buyer)[1] == 0, "nothing stays held for a package"
        bought = {}
        for t in result.trades:
            bought[t.asset_id] = bought.get(t.asset_id, 0) + t.quantity
        if p.status == "filled":
            per_asset = {}
            for spec in specs:
                asset = (w.listing.asset_id if spec.listing_id else
                         next(m.asset_id for m in w.markets if m.id == spec.market_id))
                per_asset[asset] = per_asset.get(asset, 0) + spec.quantity
            assert bought == per_asset  # every leg whole
            assert all(leg.filled_quantity == leg.quantity for leg in p.legs.all())
            assert before[0][next(iter(before[0]))] is not None
            assert w.cash(w.buyer)[0] == before[0][_buyer_cash_id(w)][0] - p.paid
            assert total is None or p.paid <= total * YUAN
            assert {t.ledger_transaction_id for t in result.trades} == {p.settle_transaction_id}
        else:
            assert p.reason and not result.trades and p.paid == 0
            assert after == before  # nothing bought, the escrow released in full
            assert {m.asset_id: w.rights(w.buyer, m.asset_id)[0] for m in w.markets} == rights_before
        transaction.set_rollback(True)


def _buyer_cash_id(w):
    return Account.objects.get(organization=w.buyer, asset__code="CNY", kind="participant").pk
