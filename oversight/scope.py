"""Jurisdiction: what an oversight membership may see and act on.

The exchange operator sees everything. A regulator sees what concerns its jurisdiction (`Region.covers`,
i.e. a code prefix: a city regulator its city's codes, the provincial one the whole province):
  * a trade when its buyer, its seller or its instrument's origin lies in the jurisdiction;
  * an organization / a market when its region / its instrument's origin lies there;
  * an audit event or alert when one of its `region_codes` lies there;
  * an approval request when its trade is visible, or the request names the jurisdiction.
Anything outside is a 404, never a 403 that would confirm it exists.

A regulator of another province (Guangdong's, for the cross-provincial basin agreements of
`compensation`) is a regulator like any other: its jurisdiction is its own province's codes, so it sees
what involves them and nothing of Fujian's own. What is the exchange's as a whole (its rulebook) belongs to
the exchange's own province (`EXCHANGE_PROVINCE`): `is_provincial` is its regulator or the operator.
"""
from __future__ import annotations

from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from accounts.models import Membership, Organization
from accounts.permissions import is_operator
from ledger.models import Asset
from marketplace.models import Market
from trading.models import Trade

from .models import ApprovalRequest

OVERSIGHT_KINDS = ("regulator", "exchange_operator")
EXCHANGE_PROVINCE = "350000"  # the province the exchange serves (Fujian): its regulator oversees the exchange itself
DECIDING_ROLES = ("admin", "approver")


class Scope:
    """The visible part of the world for one membership. `prefix` None means unrestricted."""

    def __init__(self, membership: Membership):
        self.membership = membership
        self.organization = membership.organization
        self.is_operator = is_operator(membership)
        self.is_regulator = self.organization.kind == "regulator"
        jurisdiction = self.organization.jurisdiction if self.is_regulator else None
        self.jurisdiction = jurisdiction
        if self.is_operator:
            self.prefix = None
        elif jurisdiction is not None:
            self.prefix = jurisdiction.prefix
        else:
            self.prefix = "\x00"  # matches nothing

    @property
    def is_provincial(self) -> bool:
        """The operator or the regulator of the exchange's own province (not another province's)."""
        return self.is_operator or (self.jurisdiction is not None and self.jurisdiction.code == EXCHANGE_PROVINCE)

    def covers(self, code: str | None) -> bool:
        if self.prefix is None:
            return True
        return bool(code) and code.startswith(self.prefix)

    def covers_any(self, codes) -> bool:
        return any(self.covers(c) for c in codes or ())

    # --- querysets ---------------------------------------------------------------------------------

    def trades(self, qs: QuerySet[Trade] | None = None) -> QuerySet[Trade]:
        qs = Trade.objects.all() if qs is None else qs
        if self.prefix is None:
            return qs
        origin = Asset.objects.filter(pk=OuterRef("asset_id"), origin_region__code__startswith=self.prefix)
        return qs.filter(Q(buyer__region__code__startswith=self.prefix)
                         | Q(seller__region__code__startswith=self.prefix) | Q(Exists(origin)))

    def trade_visible(self, trade: Trade, origin_region: str | None) -> bool:
        return self.prefix is None or self.covers_any([trade.buyer.region_id, trade.seller.region_id, origin_region])

    def organizations(self, qs: QuerySet[Organization] | None = None) -> QuerySet[Organization]:
        qs = Organization.objects.all() if qs is None else qs
        return qs if self.prefix is None else qs.filter(region__code__startswith=self.prefix)

    def markets(self, qs: QuerySet[Market] | None = None) -> QuerySet[Market]:
        qs = Market.objects.all() if qs is None else qs
        return qs if self.prefix is None else qs.filter(asset__origin_region__code__startswith=self.prefix)

    def by_region_codes(self, qs: QuerySet, field: str = "region_codes") -> QuerySet:
        """Rows whose JSON list `field` holds a code in the jurisdiction."""
        if self.prefix is None:
            return qs
        table = qs.model._meta.db_table
        return qs.filter(RawSQL(
            f'EXISTS (SELECT 1 FROM jsonb_array_elements_text("{table}"."{field}") c WHERE c LIKE %s)',
            [self.prefix + "%"], output_field=BooleanField()))

    def approvals(self, qs):
        qs = ApprovalRequest.objects.all() if qs is None else qs
        if self.prefix is None:
            return qs
        visible = self.trades(Trade.objects.filter(pk=OuterRef("trade_id")))
        return qs.filter(Q(Exists(visible)) | Q(jurisdiction__startswith=self.prefix))


def province_of(code: str) -> str:
    """The province a division code lies in (GB/T 2260: its first two digits)."""
    return code[:2] + "0000"


def scope_of(membership: Membership) -> Scope:
    return Scope(membership)
