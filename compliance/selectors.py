"""Reads of the compliance cycle, scoped to the acting membership.

Who sees which covered enterprise (its obligation, allocations, verified emissions):
  * the enterprise itself; the verifier assigned to it; the year's authority;
  * a government for the enterprises in its division; a regulator in its jurisdiction; the operator all
    (`oversight.scope.Scope` for the oversight kinds).
Compliance years and coverage are public reference data for every member.
"""
from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import GOVERNMENT_KINDS, Membership
from oversight.scope import OVERSIGHT_KINDS, Scope

from .models import Allocation, ComplianceCoverage, ComplianceYear, CoveredEnterprise, VerifiedEmission
from .services import obligation_of, shortfalls


def years() -> QuerySet[ComplianceYear]:
    return ComplianceYear.objects.select_related("allocation_asset", "authority", "region").order_by("-year", "id")


def coverage() -> QuerySet[ComplianceCoverage]:
    return ComplianceCoverage.objects.select_related("region").order_by("id")


def covered_visible(membership: Membership) -> QuerySet[CoveredEnterprise]:
    org = membership.organization
    qs = CoveredEnterprise.objects.select_related("organization", "organization__region", "compliance_year",
                                                  "compliance_year__allocation_asset", "verifier")
    if org.kind in OVERSIGHT_KINDS:
        scope = Scope(membership)
        return qs if scope.prefix is None else qs.filter(organization__region__code__startswith=scope.prefix)
    mine = Q(organization=org) | Q(verifier=org) | Q(compliance_year__authority=org)
    if org.kind in GOVERNMENT_KINDS:
        mine |= Q(organization__region__code__startswith=org.region.prefix)
    return qs.filter(mine)


def obligations(membership: Membership, year_id: int | None = None) -> list[dict]:
    qs = covered_visible(membership).order_by("-compliance_year__year", "organization_id")
    if year_id is not None:
        qs = qs.filter(compliance_year_id=year_id)
    out = []
    for covered in qs[:1000]:
        state = obligation_of(covered)
        allocated = sum(a.amount for a in covered.allocations.select_related("movement")
                        if a.amount > 0 and a.movement is not None and a.movement.status == "confirmed")
        out.append({"covered": covered, "year": covered.compliance_year, "allocated": allocated, **state})
    return out


def allocations_visible(membership: Membership, year_id: int | None = None) -> QuerySet[Allocation]:
    visible = covered_visible(membership).values("pk")
    qs = Allocation.objects.filter(covered__in=visible).select_related(
        "covered__organization", "compliance_year__allocation_asset", "movement").order_by("-id")
    return qs if year_id is None else qs.filter(compliance_year_id=year_id)


def emissions_visible(membership: Membership, year_id: int | None = None) -> QuerySet[VerifiedEmission]:
    visible = covered_visible(membership).filter(compliance_year_id=OuterRef("compliance_year_id"),
                                                 organization_id=OuterRef("organization_id"))
    qs = VerifiedEmission.objects.filter(Exists(visible)).select_related("compliance_year__allocation_asset",
                                                                         "organization")
    qs = qs.order_by("-id")
    return qs if year_id is None else qs.filter(compliance_year_id=year_id)


def shortfall_report(membership: Membership, year: ComplianceYear) -> dict:
    """The regulator's report: each visible covered enterprise's obligation, surrendered and shortfall,
    and totals per city (region), for one compliance year."""
    scope = Scope(membership)
    rows = [r for r in shortfalls(year) if scope.covers(r["organization"].region_id)]
    by_region: dict[str, dict] = {}
    for r in rows:
        city = r["organization"].region.city_code
        agg = by_region.setdefault(city, {"region": city, "enterprises": 0, "short": 0, "obligation": 0,
                                          "surrendered": 0, "shortfall": 0})
        agg["enterprises"] += 1
        agg["short"] += 1 if r["shortfall"] > 0 else 0
        for k in ("obligation", "surrendered", "shortfall"):
            agg[k] += r[k]
    return {"year": year, "rows": rows, "regions": [by_region[k] for k in sorted(by_region)]}
