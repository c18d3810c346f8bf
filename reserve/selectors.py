"""Reads of the reserve: designations, holdings (the designated bodies' ledger balances for the
instruments of their right types), purchases (tenders into buy-back notices and the bodies' purchases on
listings and the order book), releases (with their listings' state). Regulators see the reserves whose
body lies in their jurisdiction (`oversight.scope`); the operator sees all; a reserve body its own."""
from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Membership
from accounts.permissions import is_operator
from ledger.models import Account, Asset
from oversight.scope import scope_of
from trading.models import Listing, Trade

from .models import BuybackNotice, Designation, DesignationStatus, Release, Tender


def visible_designations(membership: Membership) -> QuerySet[Designation]:
    qs = Designation.objects.select_related("organization", "right_type").order_by("right_type_id", "-id")
    org = membership.organization
    if is_operator(membership):
        return qs
    if org.kind == "regulator":
        return qs.filter(organization__in=scope_of(membership).organizations())
    return qs.filter(organization=org)


def holdings(designation: Designation) -> list[dict]:
    assets = Asset.objects.filter(right_type=designation.right_type, kind="right")
    rows = (Account.objects.filter(organization=designation.organization, asset__in=assets, kind="participant")
            .select_related("asset").order_by("asset__code"))
    return [{"asset": a.asset.code, "asset_id": a.asset_id, "unit": a.asset.unit, "scale": a.asset.scale,
             "available": a.available, "held": a.held} for a in rows]


def notices(designation: Designation) -> QuerySet[BuybackNotice]:
    return BuybackNotice.objects.filter(designation=designation).select_related("asset").order_by("-id")


def tenders(designation: Designation) -> QuerySet[Tender]:
    return (Tender.objects.filter(notice__designation=designation).select_related("notice__asset", "holder")
            .order_by("-id"))


def listing_purchases(designation: Designation) -> QuerySet[Trade]:
    """The body's purchases of its right type through the ordinary buying paths while it held the reserve."""
    assets = Asset.objects.filter(right_type=designation.right_type).values("id")
    qs = Trade.objects.filter(buyer=designation.organization, asset_id__in=assets).select_related("seller")
    if designation.decided_at:
        qs = qs.filter(created_at__gte=designation.decided_at)
    return qs.order_by("-id")


def releases(designation: Designation) -> list[tuple[Release, Listing | None]]:
    rows = list(Release.objects.filter(designation=designation).select_related("asset").order_by("-id"))
    listings = Listing.objects.in_bulk([r.listing_id for r in rows])
    return [(r, listings.get(r.listing_id)) for r in rows]


def active(qs: QuerySet[Designation]) -> QuerySet[Designation]:
    return qs.filter(status=DesignationStatus.ACTIVE)
