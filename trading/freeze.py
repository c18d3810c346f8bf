"""What freezing (suspending) an organization does to trading: its open orders, listings and bids are
pulled at once, in the transaction of the suspension itself, each with its escrow released and its own
audit event.

`accounts` cannot import trading (layers), so `accounts.services.organization_set_status` sends the
`organization_suspended` signal inside its transaction and `pull_organization` is connected to it in
`TradingConfig.ready`. Pulling is the first line; the second is a platform invariant that holds even for
an order that slipped in concurrently with the freeze: matching never fills against a resting order of a
suspended organization (`services._match`), an auction never awards to a suspended bidder
(`listings._award`), and settlement fails (escrow released, `alert.settlement_failed`) a trade whose buyer
or seller is suspended when it settles (`settlement._trade_settle`) — in every market, whatever the
rulebook says.

Lock order: the organization row (taken by the suspension), then each market in id order, then the
accounts, as every order-book writer does after its market lock.
"""
from __future__ import annotations

from django.db import transaction

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import Organization

from .listing_models import Bid, BidStatus, Listing, ListingStatus
from .models import Order, OrderStatus

REASON = "organization_suspended"


def pull_organization(*, organization: Organization, actor: Actor, reason: str = "") -> dict:
    """Cancel every open order, listing and bid of `organization`, releasing their escrow. Must run
    inside the suspension's transaction (the caller holds the organization row lock)."""
    from . import listings, services

    assert transaction.get_connection().in_atomic_block, "pull_organization runs inside the suspension"
    out = {"orders": [], "listings": [], "bids": []}
    regions = [organization.region_id]
    market_ids = sorted(set(Order.objects.filter(organization=organization, status=OrderStatus.OPEN)
                            .values_list("market_id", flat=True)))
    for market_id in market_ids:
        market = services.market_lock(market_id=market_id, now=services.timezone.now())
        orders = list(Order.objects.select_for_update().filter(market_id=market_id, organization=organization,
                                                               status=OrderStatus.OPEN).order_by("id"))
        if not orders:
            continue
        services._lock_accounts(market, orders)
        for order in orders:
            before = {"status": order.status, "remaining": order.remaining, "held": order.hold_remaining}
            services._close_order(order, market, OrderStatus.CANCELLED, REASON, actor)
            audit_record(actor=actor, action="order.cancel", object_type="order", object_id=order.id,
                         before=before, after={"status": order.status, "reason": REASON, "detail": reason[:200]},
                         region_codes=regions)
            out["orders"].append(order.id)

    now = listings.db_now()
    for listing_id in (Listing.objects.filter(seller=organization, status=ListingStatus.OPEN)
                       .order_by("id").values_list("id", flat=True)):
        listing = listings._lock(listing_id)
        if listing.status != ListingStatus.OPEN:
            continue
        asset = listings._asset(listing)
        before = {"status": listing.status, "remaining": listing.remaining, "held": listing.hold_remaining}
        released_bids = []
        if listing.kind in listings.AUCTION_KINDS:
            # the other bidders get their escrow back: there is no longer anything to bid on
            for bid in Bid.objects.select_for_update().filter(listing=listing, status=BidStatus.ACTIVE).order_by("id"):
                listings._release_bid(bid, BidStatus.LOST, actor)
                released_bids.append(bid.id)
        listings._release_listing(listing, asset, actor, ListingStatus.CANCELLED, now)
        audit_record(actor=actor, action="listing.cancel", object_type="listing", object_id=listing.id,
                     before=before, after={"status": listing.status, "reason": REASON, "bids_released": released_bids,
                                           "detail": reason[:200]},
                     region_codes=sorted({organization.region_id, asset.origin_region_id} - {None}))
        out["listings"].append(listing.id)

    for bid in (Bid.objects.select_for_update(of=("self",)).select_related("listing")
                .filter(bidder=organization, status=BidStatus.ACTIVE).order_by("id")):
        before = {"status": bid.status, "held": bid.hold}
        listings._release_bid(bid, BidStatus.WITHDRAWN, actor)
        audit_record(actor=actor, action="bid.withdraw", object_type="bid", object_id=bid.id, before=before,
                     after={"status": bid.status, "listing": bid.listing_id, "reason": REASON,
                            "detail": reason[:200]}, region_codes=regions)
        out["bids"].append(bid.id)
    return out


def on_organization_suspended(sender, *, organization, actor, reason="", **kwargs) -> None:
    pulled = pull_organization(organization=organization, actor=actor, reason=reason)
    kwargs.get("summary", {}).update({k: len(v) for k, v in pulled.items() if v})
