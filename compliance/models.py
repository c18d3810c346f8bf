"""The compliance cycle (履约周期) of allowance-type rights.

Design overview
---------------
Coverage. Which right types run a compliance cycle, and where, is data: a `ComplianceCoverage` row
(right type, region, optional subtype, first year). The demo has carbon allowances and energy-use rights
for the whole province; a county that chooses a cycle for its emission rights adds a row for its own
division (e.g. emission/SO2 in 350121). A compliance year can only be opened under a coverage row whose
region covers the year's region.

Year. A `ComplianceYear` is one right type's cycle for one calendar year in one region: the allowances
allocated for it (`allocation_asset`, an instrument of that right type whose vintage is the year, issued
by the year's `authority`), the deadline (the last day, Asia/Shanghai, on which allowances may be
surrendered for it) and the share of the expected allocation given as pre-allocation. The reference is
China's national carbon market: an annual cycle, free allocation by benchmark × output with a
pre-allocation and a final true-up, and the surrender of the year's verified emissions by a deadline in
the following year (docs/compliance.md cites the sources).

Covered enterprises. `CoveredEnterprise` (year × organization): the allocation method — by list (a
final amount set by the authority) or by benchmark (allowances per unit of output, × the verified
output) — and the verifier assigned to it.

Allocation. `Allocation` rows: one or more pre-allocations (positive) and at most one true-up (the final
allocation minus every pre-allocation that was not rejected; it may be negative). A positive amount is
issuance: it is proposed as a ledger `MovementRequest` of kind `issue` (maker–checker: another person of
the issuer or of the operator confirms it, exactly as any issuance); the row names that request. A
negative true-up moves nothing in the ledger: the enterprise owes it, and it is added to the year's
obligation (to be surrendered with the emissions). A zero true-up is recorded for the record.

Verified emissions. `VerifiedEmission` rows, append-only and versioned per (year, enterprise): submitted
by the assigned verifier (an organization of kind `verifier`) with the evidence's SHA-256 and reference;
a correction is the next version with a reason, never an overwrite (the database refuses UPDATE and
DELETE). The latest version counts. Amounts are minor units of the year's allowance asset (a tonne of
CO2e per allowance); `output` (the verified activity level, e.g. MWh) is what a benchmark true-up uses.

Surrender. `Surrender` rows, one per ledger retirement (`ledger.services.rights_retire`: participant →
the asset's retirement account, reason and compliance period naming the year), append-only.

Obligation = latest verified emissions + the negative true-up owed. Surrendered = the sum of the year's
surrenders (never more than the obligation at the time). Shortfall = max(0, obligation − surrendered),
reported and alerted once the deadline has passed.
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Organization, Region, User
from ledger.models import Asset, LedgerTransaction, MovementRequest, RightType


class ComplianceCoverage(models.Model):
    """A right type (optionally one subtype) runs a compliance cycle in a region from a year on."""

    right_type = models.ForeignKey(RightType, on_delete=models.PROTECT, related_name="+")
    subtype = models.CharField(max_length=30, blank=True, help_text="blank: every subtype")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    since_year = models.PositiveSmallIntegerField()
    created_by_organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT,
                                                related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["right_type", "subtype", "region"],
                                               name="compliance_coverage_once")]


class ComplianceYear(models.Model):
    right_type = models.ForeignKey(RightType, on_delete=models.PROTECT, related_name="+")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    allocation_asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    authority = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+",
                                  help_text="the allocation asset's issuer: allocates and covers enterprises")
    deadline = models.DateField(help_text="last day (Asia/Shanghai) on which allowances are surrendered")
    pre_allocation_percent = models.PositiveSmallIntegerField(default=70)
    name = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-year", "id"]
        constraints = [
            models.UniqueConstraint(fields=["right_type", "region", "year"], name="compliance_year_once"),
            models.CheckConstraint(condition=Q(pre_allocation_percent__lte=100), name="compliance_pre_percent"),
            models.CheckConstraint(condition=Q(year__gte=2000, year__lte=2200), name="compliance_year_range"),
        ]

    def __str__(self):
        return f"{self.right_type_id} {self.year} ({self.region_id})"

    @property
    def period(self) -> str:
        """The compliance period written on the ledger's retirements (`rights_retire`)."""
        return f"{self.right_type_id}:{self.year}:{self.region_id}"


class AllocationMethod(models.TextChoices):
    LIST = "list", "By list (a set amount)"
    BENCHMARK = "benchmark", "Benchmark × verified output"


class CoveredEnterprise(models.Model):
    compliance_year = models.ForeignKey(ComplianceYear, on_delete=models.PROTECT, related_name="covered")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=10, choices=AllocationMethod.choices)
    benchmark = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True,
                                    help_text="allowance units per unit of output (benchmark method)")
    output_unit = models.CharField(max_length=10, blank=True, help_text="e.g. MWh, t clinker")
    listed_amount = models.BigIntegerField(null=True, blank=True,
                                           help_text="final allocation in minor units (list method)")
    verifier = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["compliance_year", "organization"], name="covered_once_per_year"),
            models.CheckConstraint(
                condition=(Q(method="benchmark", benchmark__gt=0, listed_amount__isnull=True)
                           | Q(method="list", benchmark__isnull=True, listed_amount__gte=0)),
                name="covered_method_fields"),
        ]


class AllocationPhase(models.TextChoices):
    PRE = "pre", "Pre-allocation"
    TRUE_UP = "true_up", "True-up"


class Allocation(models.Model):
    compliance_year = models.ForeignKey(ComplianceYear, on_delete=models.PROTECT, related_name="allocations")
    covered = models.ForeignKey(CoveredEnterprise, on_delete=models.PROTECT, related_name="allocations")
    phase = models.CharField(max_length=8, choices=AllocationPhase.choices)
    amount = models.BigIntegerField(help_text="minor units of the allocation asset; a true-up may be negative")
    basis = models.JSONField(default=dict, help_text="how the amount was computed")
    movement = models.OneToOneField(MovementRequest, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", help_text="the issuance request (positive amounts)")
    proposed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=~Q(phase="pre") | Q(amount__gt=0), name="allocation_pre_positive"),
            # only a positive amount is issued (a negative true-up is owed, not un-issued)
            models.CheckConstraint(condition=Q(amount__gt=0) | Q(movement__isnull=True),
                                   name="allocation_issues_only_positive"),
            models.UniqueConstraint(fields=["covered"], condition=Q(phase="true_up"), name="one_true_up"),
        ]


class VerifiedEmission(models.Model):
    """One version of an enterprise's verified emissions for a year. Append-only."""

    compliance_year = models.ForeignKey(ComplianceYear, on_delete=models.PROTECT, related_name="emissions")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    amount = models.BigIntegerField(help_text="minor units of the year's allowance asset")
    output = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True,
                                 help_text="verified output (activity level), for a benchmark true-up")
    evidence_sha256 = models.CharField(max_length=64)
    evidence_reference = models.CharField(max_length=200)
    reason = models.CharField(max_length=300, blank=True, help_text="why a correction (version > 1)")
    verifier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    submitted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["compliance_year", "organization", "version"],
                                    name="verified_emission_version_once"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="verified_emission_non_negative"),
            models.CheckConstraint(condition=Q(version=1) | ~Q(reason=""), name="verified_emission_correction_reason"),
            models.CheckConstraint(condition=Q(evidence_sha256__regex=r"^[0-9a-f]{64}$"),
                                   name="verified_emission_evidence_hash"),
        ]


class Surrender(models.Model):
    """Allowances surrendered for a year: one ledger retirement. Append-only."""

    compliance_year = models.ForeignKey(ComplianceYear, on_delete=models.PROTECT, related_name="surrenders")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    transaction = models.OneToOneField(LedgerTransaction, on_delete=models.PROTECT, related_name="+")
    surrendered_on = models.DateField()
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="surrender_positive"),
        ]



