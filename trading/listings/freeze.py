"""What freezing (suspending) an organization does to its listings and bids: each open listing is
cancelled (an auction's other bidders get their escrow back) and each active bid withdrawn, escrow
released and each audited, in the suspension's own transaction (`accounts.services.organization_suspended`,
connected in `TradingConfig.ready`; the order book pulls orders, `trading.orderbook.freeze`). The
platform invariant behind it is in `services._award`: an auction never goes to a suspended bidder."""
from __future__ import annotations

from django.db import transaction

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import Organization
from trading.listings import services
from trading.models import Bid, BidStatus, Listing, ListingStatus

REASON = "organization_suspended"


def pull_listings_and_bids(*, organization: Organization, actor: Actor, reason: str = "") -> dict:
    """Cancel the open listings and withdraw the active bids of `organization`; returns their ids."""
    assert transaction.get_connection().in_atomic_block, "pull_listings_and_bids runs inside the suspension"
    out = {"listings": [], "bids": []}
    now = services.db_now()
    for listing_id in (Listing.objects.filter(seller=organization, status=ListingStatus.OPEN)
                       .order_by("id").values_list("id", flat=True)):
        listing = services._lock(listing_id)
        if listing.status != ListingStatus.OPEN:
            continue
        asset = services._asset(listing)
        before = {"status": listing.status, "remaining": listing.remaining, "held": listing.hold_remaining}
        released_bids = []
        # an auction's other bidders get their escrow back: there is nothing left to bid on (other kinds
        # have no bids)
        for bid in Bid.objects.select_for_update().filter(listing=listing, status=BidStatus.ACTIVE).order_by("id"):
            services._release_bid(bid, BidStatus.LOST, actor)
            released_bids.append(bid.id)
        services._release_listing(listing, asset, actor, ListingStatus.CANCELLED, now)
        audit_record(actor=actor, action="listing.cancel", object_type="listing", object_id=listing.id,
                     before=before, after={"status": listing.status, "reason": REASON, "bids_released": released_bids,
                                           "detail": reason[:200]},
                     region_codes=sorted({organization.region_id, asset.origin_region_id} - {None}))
        out["listings"].append(listing.id)

    for bid in (Bid.objects.select_for_update(of=("self",)).select_related("listing")
                .filter(bidder=organization, status=BidStatus.ACTIVE).order_by("id")):
        before = {"status": bid.status, "held": bid.hold}
        services._release_bid(bid, BidStatus.WITHDRAWN, actor)
        audit_record(actor=actor, action="bid.withdraw", object_type="bid", object_id=bid.id, before=before,
                     after={"status": bid.status, "listing": bid.listing_id, "reason": REASON,
                            "detail": reason[:200]}, region_codes=[organization.region_id])
        out["bids"].append(bid.id)
    return out


def on_organization_suspended(sender, *, organization, actor, reason="", summary=None, **kwargs) -> None:
    pulled = pull_listings_and_bids(organization=organization, actor=actor, reason=reason)
    if summary is not None:
        summary.update({k: len(v) for k, v in pulled.items() if v})
