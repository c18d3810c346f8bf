"""Listing mechanisms (`trading.listings.mechanisms`) are registered classes: one per `ListingKind`, with
the terms, actions, trade source and bid visibility the use cases ask them for; and a new mechanism is a
class, registered, that `listing_create` / `listing_buy` / `listing_bid` then honour without a kind switch."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from accounts.actor import Actor
from core.errors import DomainError
from ledger.services import asset_create, cash_deposit, rights_issue
from trading.listings.mechanisms import BUY, MECHANISMS, FixedPrice, mechanism, private_kinds
from trading.listings.services import db_now, listing_bid, listing_buy, listing_create
from trading.models import ListingKind, ListingStatus, TradeSource

SYSTEM = Actor.system()


def test_every_listing_kind_has_its_mechanism_with_the_terms_it_always_had():
    assert set(ListingKind.values) <= set(MECHANISMS)
    table = {k: (set(MECHANISMS[k].required), set(MECHANISMS[k].optional), MECHANISMS[k].trade_source,
                 set(MECHANISMS[k].actions)) for k in ListingKind.values}
    assert table == {
        "fixed_price": ({"price"}, {"divisible", "min_purchase", "start_at", "end_at"}, TradeSource.LISTING, {"buy"}),
        "english": ({"reserve_price", "min_increment", "end_at"}, {"start_at", "anti_snipe_minutes"},
                    TradeSource.AUCTION, {"bid"}),
        "sealed": ({"reserve_price", "end_at"}, {"start_at", "second_price"}, TradeSource.AUCTION, {"bid"}),
        "negotiated": ({"price", "named_buyer", "end_at"}, set(), TradeSource.NEGOTIATED, {"accept"}),
    }
    assert [k for k in ListingKind.values if MECHANISMS[k].awards_on_close] == ["english", "sealed"]
    assert private_kinds() == ["negotiated"]


@pytest.mark.parametrize("kind, status, visible", [
    ("english", "open", True), ("sealed", "open", False), ("sealed", "closed", True),
    ("fixed_price", "open", False), ("negotiated", "open", False)])
def test_bid_visibility(kind, status, visible):
    assert MECHANISMS[kind].bids_visible(SimpleNamespace(kind=kind, status=status)) is visible


def test_sealed_second_price_and_english_first_price():
    bids = [SimpleNamespace(amount=a) for a in (900, 800)]
    sealed, english = MECHANISMS["sealed"], MECHANISMS["english"]
    assert sealed.award_price(SimpleNamespace(second_price=True, reserve_price=500), bids, 0) == 800
    assert sealed.award_price(SimpleNamespace(second_price=True, reserve_price=500), bids[:1], 0) == 500
    assert sealed.award_price(SimpleNamespace(second_price=False, reserve_price=500), bids, 0) == 900
    assert english.award_price(SimpleNamespace(second_price=True, reserve_price=500), bids, 0) == 900


@pytest.fixture
def whole_lot_mechanism():
    """A mechanism added by registration only: a fixed price for the whole lot, no other terms."""

    @mechanism
    class WholeLot(FixedPrice):
        kind = "whole_lot"
        optional = frozenset()

    yield WholeLot
    del MECHANISMS["whole_lot"]


@pytest.mark.django_db
def test_a_new_mechanism_is_a_registered_class(whole_lot_mechanism, make_org, operator_org):
    issuer = make_org("county_government", "350121")
    asset = asset_create(actor=SYSTEM, code="energy-test-1", right_type_id="energy", subtype="x", unit="tce",
                         scale=0, vintage=2026, origin_region_id="350121", issuer=issuer)
    seller, buyer = make_org("enterprise", "350121"), make_org("enterprise", "350102")
    rights_issue(actor=SYSTEM, issuer=issuer, asset=asset, recipient=seller, amount=100, idempotency_key="e-1")
    cash_deposit(actor=SYSTEM, organization=buyer, amount=10_000_000, bank_reference="b", idempotency_key="c-1")
    now = db_now()
    with pytest.raises(DomainError) as exc:  # its terms: the price only
        listing_create(actor=SYSTEM, seller=seller, kind="whole_lot", asset_id=asset.id, quantity=100,
                       price=1000, divisible=True, now=now)
    assert exc.value.code == "invalid_listing_terms" and set(exc.value.fields) == {"divisible"}
    listing = listing_create(actor=SYSTEM, seller=seller, kind="whole_lot", asset_id=asset.id, quantity=100,
                             price=1000, now=now)
    with pytest.raises(DomainError) as exc:  # its actions: buy, not bid
        listing_bid(actor=SYSTEM, bidder=buyer, listing_id=listing.id, amount=1000, now=now)
    assert exc.value.code == "wrong_listing_kind"
    with pytest.raises(DomainError) as exc:  # not divisible: the whole lot (C-QTY-002)
        listing_buy(actor=SYSTEM, buyer=buyer, listing_id=listing.id, quantity=50, now=now)
    assert exc.value.code == "listing_indivisible"
    result = listing_buy(actor=SYSTEM, buyer=buyer, listing_id=listing.id, quantity=100, now=now)
    assert (result.trade.source, result.trade.quantity, result.listing.status) == (
        TradeSource.LISTING, 100, ListingStatus.CLOSED)
    assert BUY in whole_lot_mechanism.actions


def test_an_unknown_kind_is_invalid_terms():
    from trading.listings.mechanisms import mechanism_for

    with pytest.raises(DomainError) as exc:
        mechanism_for("dutch")
    assert exc.value.code == "invalid_listing_terms" and "kind" in exc.value.fields
