"""The compliance cycle's fixed business checks (numbered in the family of `core.checks`, subject K):

  K-COVER-001       compliance_not_covered             a right type (subtype) runs a cycle in the region
  K-ENTERPRISE-001  compliance_enterprise_not_covered  the enterprise is covered in the year
  K-VERIFIER-001    compliance_not_the_verifier        only the assigned verifier submits emissions
  K-DEADLINE-001    compliance_deadline_passed         surrender on or before the deadline day
  K-ASSET-001       compliance_wrong_instrument        surrender the year's kind of allowance
  K-VERIFY-001      compliance_emissions_not_verified  surrender only against verified emissions
  K-OBLIG-001       compliance_exceeds_obligation      never surrender more than is still owed
  K-ALLOC-001       compliance_true_up_needs_output    a benchmark true-up needs the verified output

Which vintages may be surrendered is rulebook data (`marketplace.rules.vintage`, V-VINT-00x).
"""
from __future__ import annotations

from core.checks import BusinessCheck, business_check
from core.money import from_minor

from .errors import (
    DEADLINE_PASSED,
    EXCEEDS_OBLIGATION,
    NOT_COVERED,
    NOT_COVERED_ENTERPRISE,
    NOT_THE_VERIFIER,
    NOT_VERIFIED,
    TRUE_UP_NEEDS_OUTPUT,
    WRONG_INSTRUMENT,
)


@business_check
class RightTypeCovered(BusinessCheck):
    """A compliance year exists only where a coverage row (data: right type, optional subtype, a region
    covering the year's region, first year) says the right type runs a compliance cycle."""

    number, code, subject = "K-COVER-001", NOT_COVERED, "compliance"

    @classmethod
    def check(cls, *, coverage, right_type, region, **_):
        if coverage is None:
            return cls.refuse(fields={"right_type": right_type}, right_type=right_type, region=region)
        return None


@business_check
class EnterpriseCovered(BusinessCheck):
    """Allocation, verified emissions and surrender concern an enterprise covered in the year."""

    number, code, subject = "K-ENTERPRISE-001", NOT_COVERED_ENTERPRISE, "compliance"

    @classmethod
    def check(cls, *, covered, **_):
        return cls.refuse(fields={"organization": "not covered"}) if covered is None else None


@business_check
class AssignedVerifier(BusinessCheck):
    """Verified emissions come from the verifier organization (kind `verifier`) assigned to the
    enterprise for the year, and from no one else (not the enterprise, not the authority)."""

    number, code, subject = "K-VERIFIER-001", NOT_THE_VERIFIER, "compliance"

    @classmethod
    def check(cls, *, covered, organization, **_):
        if organization.kind != "verifier" or covered.verifier_id != organization.pk:
            return cls.refuse()
        return None


@business_check
class BeforeDeadline(BusinessCheck):
    """Allowances are surrendered for a year up to and including its deadline day (Asia/Shanghai);
    after it, what is missing is a shortfall."""

    number, code, subject = "K-DEADLINE-001", DEADLINE_PASSED, "compliance"

    @classmethod
    def check(cls, *, year, on, **_):
        if on > year.deadline:
            return cls.refuse(deadline=year.deadline.isoformat())
        return None


@business_check
class SurrenderInstrument(BusinessCheck):
    """Only allowances of the year's right type, subtype, unit and scale count for it (an SO2 right does
    not settle a COD obligation; a tonne is a tonne)."""

    number, code, subject = "K-ASSET-001", WRONG_INSTRUMENT, "compliance"

    @classmethod
    def check(cls, *, year, asset, **_):
        ref = year.allocation_asset
        if (asset.kind != "right" or asset.right_type_id != ref.right_type_id
                or (asset.subtype or "").upper() != (ref.subtype or "").upper()
                or asset.unit != ref.unit or asset.scale != ref.scale):
            return cls.refuse(fields={"asset": asset.code})
        return None


@business_check
class EmissionsVerified(BusinessCheck):
    """Surrender settles verified emissions: before a verifier has submitted them there is nothing owed."""

    number, code, subject = "K-VERIFY-001", NOT_VERIFIED, "compliance"

    @classmethod
    def check(cls, *, verified, **_):
        return cls.refuse() if verified is None else None


@business_check
class WithinObligation(BusinessCheck):
    """An enterprise never surrenders more than it still owes for the year (obligation − surrendered):
    allowances beyond it stay in its account, to be sold or banked under the vintage rules."""

    number, code, subject = "K-OBLIG-001", EXCEEDS_OBLIGATION, "compliance"

    @classmethod
    def check(cls, *, amount, remaining, asset, **_):
        if amount > remaining:
            return cls.refuse(fields={"amount": "exceeds what is owed"},
                              remaining=from_minor(max(remaining, 0), asset.scale), unit=asset.unit)
        return None


@business_check
class TrueUpBasis(BusinessCheck):
    """A true-up by benchmark multiplies the benchmark by the verified output: it waits for it."""

    number, code, subject = "K-ALLOC-001", TRUE_UP_NEEDS_OUTPUT, "compliance"

    @classmethod
    def check(cls, *, method, output, **_):
        if method == "benchmark" and output is None:
            return cls.refuse()
        return None
