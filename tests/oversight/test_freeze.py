"""#14 item 6: freezing an organization stops it trading at once, in every market and for every right
type. The freeze pulls its open orders, listings and bids (escrow released, each audited) in the
suspension's own transaction; matching, auction awards and settlement refuse a suspended party as a
platform invariant, whatever the rulebook says."""
from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from accounts.actor import Actor
from accounts.models import AuditEvent, Organization
from accounts.services import organization_set_status
from ledger.models import Asset
from ledger.reference import RIGHT_TYPES
from ledger.services import rights_issue
from trading.listings.services import db_now, listing_bid, listing_close, listing_create
from trading.models import Bid, Listing, Order, Trade
from trading.orderbook.services import order_place
from trading.settlement.services import FAILURE_ALERT, PARTY_SUSPENDED, trade_settle

from tests.support.ledger import balances

SYSTEM = Actor.system()
_seq = itertools.count(1)
RIGHT_TYPE_CODES = [code for code, *_ in RIGHT_TYPES]
MARKET_KW = {"water": dict(unit="m3", scale=0, basin="minjiang"), "farmland": dict(unit="mu", scale=2)}


def _issue(market, org, quantity):
    evidence = ({"project_id": "P-1", "area_mu": "1", "acceptance_document": "D-1"}
                if market.asset.right_type_id == "farmland" else None)
    rights_issue(actor=SYSTEM, issuer=market.issuer, asset=market.asset, recipient=org, amount=quantity,
                 idempotency_key=f"freeze-issue-{next(_seq)}", evidence=evidence)


@pytest.fixture
def parties(make_org, make_market, fund, operator_org):
    def factory(right_type):
        market = make_market(right_type=right_type, subtype="x", **MARKET_KW.get(right_type, {}))
        frozen, other = make_org("enterprise", "350102"), make_org("enterprise", "350203")
        lot = market.lot_size
        for org in (frozen, other):
            fund(org, cny=10_000_000_00)
            _issue(market, org, 100 * lot)
        return market, frozen, other, lot

    return factory


def _freeze(org, operator_org):
    actor = Actor(user_id=None, organization_id=operator_org.id, role="admin", organization_kind="exchange_operator")
    return organization_set_status(actor=actor, organization=org, status="suspended", reason="涉嫌操纵")


@pytest.mark.django_db
@pytest.mark.parametrize("right_type", RIGHT_TYPE_CODES)
def test_freeze_pulls_open_orders_and_releases_their_escrow(parties, operator_org, right_type):
    market, frozen, other, lot = parties(right_type)
    cny = Asset.objects.get(code="CNY")
    sell = order_place(actor=SYSTEM, organization=frozen, market_id=market.id, side="sell", price=1000,
                       quantity=3 * lot).order
    buy = order_place(actor=SYSTEM, organization=frozen, market_id=market.id, side="buy", price=500,
                      quantity=2 * lot).order
    assert balances(frozen, market.asset)[1] == 3 * lot and balances(frozen, cny)[1] > 0

    _freeze(frozen, operator_org)

    assert {o.status for o in Order.objects.filter(pk__in=[sell.id, buy.id])} == {"cancelled"}
    assert set(Order.objects.filter(pk__in=[sell.id, buy.id]).values_list("cancel_reason", flat=True)) == {
        "organization_suspended"}
    assert balances(frozen, market.asset)[1] == 0 and balances(frozen, cny)[1] == 0
    cancels = AuditEvent.objects.filter(action="order.cancel", object_id__in=[str(sell.id), str(buy.id)])
    assert cancels.count() == 2
    assert all(e.after["reason"] == "organization_suspended" for e in cancels)
    suspend = AuditEvent.objects.get(action="organization.suspend", object_id=str(frozen.id))
    assert suspend.after["pulled"] == {"orders": 2}
    # a new buy that would have crossed the frozen seller's ask finds nothing to fill
    placed = order_place(actor=SYSTEM, organization=other, market_id=market.id, side="buy", price=1000,
                         quantity=lot)
    assert placed.trades == [] and placed.order.status == "open"


@pytest.mark.django_db
@pytest.mark.parametrize("right_type", RIGHT_TYPE_CODES)
def test_a_resting_order_of_a_frozen_organization_never_fills(parties, right_type):
    """Even an order the pull did not see (placed concurrently with the freeze) stays inert."""
    market, frozen, other, lot = parties(right_type)
    resting = order_place(actor=SYSTEM, organization=frozen, market_id=market.id, side="sell", price=1000,
                          quantity=lot).order
    Organization.objects.filter(pk=frozen.pk).update(status="suspended")  # no pull: only the invariant
    placed = order_place(actor=SYSTEM, organization=other, market_id=market.id, side="buy", price=1000,
                         quantity=lot)
    assert placed.trades == []
    resting.refresh_from_db()
    assert resting.status == "open" and resting.remaining == lot
    assert not Trade.objects.filter(seller=frozen).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("right_type", RIGHT_TYPE_CODES)
@pytest.mark.parametrize("side", ["buyer", "seller"])
def test_a_pending_trade_with_a_frozen_party_fails_at_settlement_and_releases(parties, right_type, side):
    market, frozen, other, lot = parties(right_type)
    cny = Asset.objects.get(code="CNY")
    seller, buyer = (frozen, other) if side == "seller" else (other, frozen)
    before = {org.id: (balances(org, cny), balances(org, market.asset)) for org in (frozen, other)}
    order_place(actor=SYSTEM, organization=seller, market_id=market.id, side="sell", price=1000, quantity=lot)
    trade = order_place(actor=SYSTEM, organization=buyer, market_id=market.id, side="buy", price=1000,
                        quantity=lot).trades[0]
    Organization.objects.filter(pk=frozen.pk).update(status="suspended")

    assert trade_settle(trade_id=trade.id) == "failed"
    trade.refresh_from_db()
    assert trade.failure_reason == PARTY_SUSPENDED and trade.ledger_transaction_id is None
    after = {org.id: (balances(org, cny), balances(org, market.asset)) for org in (frozen, other)}
    assert after == before  # nothing moved: both escrows went back to available
    assert AuditEvent.objects.filter(action=FAILURE_ALERT, object_id=str(trade.id)).exists()


@pytest.mark.django_db
def test_freeze_pulls_listings_and_bids_and_no_auction_awards_to_a_frozen_bidder(parties, operator_org, make_org,
                                                                                   fund):
    market, frozen, other, lot = parties("energy")
    third = make_org("enterprise", "350583")
    fund(third, cny=10_000_000_00)
    cny = Asset.objects.get(code="CNY")
    now = db_now()
    own = listing_create(actor=SYSTEM, seller=frozen, kind="english", asset_id=market.asset.id, quantity=5 * lot,
                         reserve_price=1000, min_increment=100, end_at=now + timedelta(hours=1), now=now)
    theirs = listing_create(actor=SYSTEM, seller=other, kind="sealed", asset_id=market.asset.id, quantity=lot,
                            reserve_price=1000, end_at=now + timedelta(hours=1), now=now)
    bid_on_own = listing_bid(actor=SYSTEM, bidder=third, listing_id=own.id, amount=1100, now=now).bid
    frozen_bid = listing_bid(actor=SYSTEM, bidder=frozen, listing_id=theirs.id, amount=5000, now=now).bid
    third_bid = listing_bid(actor=SYSTEM, bidder=third, listing_id=theirs.id, amount=1200, now=now).bid
    assert balances(frozen, cny)[1] > 0 and balances(frozen, market.asset)[1] == 5 * lot

    _freeze(frozen, operator_org)

    own.refresh_from_db()
    assert own.status == "cancelled"
    assert Bid.objects.get(pk=bid_on_own.id).status == "lost"  # the other bidder's escrow is back
    assert Bid.objects.get(pk=frozen_bid.id).status == "withdrawn"
    assert balances(frozen, cny)[1] == 0 and balances(frozen, market.asset)[1] == 0
    assert AuditEvent.objects.filter(action="listing.cancel", object_id=str(own.id)).exists()
    assert AuditEvent.objects.filter(action="bid.withdraw", object_id=str(frozen_bid.id)).exists()
    assert AuditEvent.objects.get(action="organization.suspend").after["pulled"] == {"listings": 1, "bids": 1}
    # the sealed auction goes to the remaining bidder
    listing_close(listing_id=theirs.id, now=now + timedelta(hours=2))
    assert Bid.objects.get(pk=third_bid.id).status == "won"
    assert Listing.objects.get(pk=theirs.id).status == "closed"


@pytest.mark.django_db
def test_an_auction_never_awards_to_a_frozen_bidder(parties):
    """The invariant at the award, for a bid the pull did not see."""
    market, frozen, other, lot = parties("energy")
    now = db_now()
    listing = listing_create(actor=SYSTEM, seller=other, kind="sealed", asset_id=market.asset.id, quantity=lot,
                             reserve_price=1000, end_at=now + timedelta(hours=1), now=now)
    bid = listing_bid(actor=SYSTEM, bidder=frozen, listing_id=listing.id, amount=5000, now=now).bid
    Organization.objects.filter(pk=frozen.pk).update(status="suspended")
    listing_close(listing_id=listing.id, now=now + timedelta(hours=2))
    assert Bid.objects.get(pk=bid.id).status == "lost"
    assert Listing.objects.get(pk=listing.id).status == "unsold"
    assert not Trade.objects.filter(buyer=frozen).exists()
