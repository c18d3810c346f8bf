"""Compensation between regions (跨区域利益补偿): basin eco-compensation agreements as data, monitoring
data with provenance, assessments and their four-eyes approvals.

Design overview
---------------
* `Agreement` is the stable identity (code, basin); what was agreed lives in `AgreementVersion` rows
  (formula kind, terms, periods), numbered 1, 2, … like the rulebook. A version is never edited: every
  column that carries agreed content is written once, at creation; a change is a new version.
  `content_hash` (SHA-256 of the canonical content) is what each party signs.
* `AgreementParty`: the organizations bound by a version, each with a role (upstream, downstream,
  funder, recipient, rewarder — the central government, whose reward by results goes to the upstream
  party) and a contribution per period (fen) that is escrowed when a period opens.
  A version is in force once every party's admin has signed it (`AgreementSignature`, bound to the
  content hash) and the provincial regulator has approved it (`CompensationApproval`, four eyes).
* `MonitoringSection` is a physical assessment section (a monitoring point on a basin between an
  upstream and a downstream region, with the station that reports it); `Indicator` a measured quantity
  with its unit and the physically valid range. Both are catalog rows shared by versions;
  `VersionIndicator` holds what a version agrees about an indicator (target class limit, baseline,
  weight).
* `Measurement` is append-only by version: (section, indicator, month, version) is unique, a
  correction is version n+1 with a reason, and the latest version is the value in force.
* `Period` (one per agreement and start date) is funded (escrow held) when it opens, assessed after it
  ends, settled once its assessment is approved and the objection window is over without an open
  objection. `Assessment` stores the computation step by step; at most one live assessment per period
  (partial unique constraint); a rejected one is replaced by a new one.
* Money columns are integer fen. Measured values are exact decimals (never floats).
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Basin, Organization, Region, User


class FormulaKind(models.TextChoices):
    COMPLIANCE_TIERS = "compliance_tiers", "Compliance-rate tiers (two-way)"
    COMPOSITE_INDEX = "composite_index", "Composite index with a stability coefficient (two-way)"
    WEIGHTED_ALLOCATION = "weighted_allocation", "Weighted-factor allocation"


class VersionStatus(models.TextChoices):
    SIGNING = "signing", "Awaiting the parties' signatures"
    PENDING_APPROVAL = "pending_approval", "Awaiting the regulator's approval"
    IN_FORCE = "in_force", "In force"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Superseded by a later version"


class PartyRole(models.TextChoices):
    UPSTREAM = "upstream", "Upstream"
    DOWNSTREAM = "downstream", "Downstream"
    FUNDER = "funder", "Funder"
    RECIPIENT = "recipient", "Recipient"
    REWARDER = "rewarder", "Rewarder (the central government's reward by results, paid to the upstream party)"


class Agreement(models.Model):
    code = models.SlugField(max_length=60, unique=True)
    name_zh = models.CharField(max_length=120)
    name_en = models.CharField(max_length=160, blank=True)
    basin = models.ForeignKey(Basin, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by_org = models.ForeignKey(Organization, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.code


class MonitoringSection(models.Model):
    code = models.SlugField(max_length=60, unique=True)
    name_zh = models.CharField(max_length=120)
    name_en = models.CharField(max_length=160, blank=True)
    basin = models.ForeignKey(Basin, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    upstream_region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    downstream_region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    station = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="monitoring_sections",
                                help_text="the monitoring station that reports this section")

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=~Q(upstream_region=models.F("downstream_region")),
                                              name="section_two_regions")]

    def __str__(self):
        return self.code


class Indicator(models.Model):
    code = models.SlugField(max_length=30, unique=True)
    name_zh = models.CharField(max_length=60)
    name_en = models.CharField(max_length=80)
    unit = models.CharField(max_length=20)
    min_value = models.DecimalField(max_digits=14, decimal_places=4)
    max_value = models.DecimalField(max_digits=14, decimal_places=4)
    scale = models.PositiveSmallIntegerField(default=3, help_text="decimal places a measurement may carry")

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(max_value__gt=models.F("min_value")),
                                              name="indicator_valid_range")]

    def __str__(self):
        return self.code


class AgreementVersion(models.Model):
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    formula_kind = models.CharField(max_length=24, choices=FormulaKind.choices)
    terms = models.JSONField(help_text="formula parameters; amounts in fen")
    sections = models.ManyToManyField(MonitoringSection, related_name="versions")
    periods = models.JSONField(help_text='[{"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}, ...] (end inclusive)')
    content_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=VersionStatus.choices, default=VersionStatus.SIGNING)
    description = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    in_force_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["agreement_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "version"], name="agreement_version_unique"),
            models.UniqueConstraint(fields=["agreement"], condition=Q(status="in_force"),
                                    name="one_version_in_force"),
            models.CheckConstraint(condition=Q(version__gte=1), name="agreement_version_positive"),
        ]

    def __str__(self):
        return f"{self.agreement_id} v{self.version}"


class AgreementParty(models.Model):
    version = models.ForeignKey(AgreementVersion, on_delete=models.PROTECT, related_name="parties")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=12, choices=PartyRole.choices)
    contribution = models.BigIntegerField(help_text="fen escrowed per period")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "organization"], name="party_once_per_version"),
            models.CheckConstraint(condition=Q(contribution__gte=0), name="party_contribution_non_negative"),
        ]


class VersionIndicator(models.Model):
    version = models.ForeignKey(AgreementVersion, on_delete=models.PROTECT, related_name="indicators")
    indicator = models.ForeignKey(Indicator, on_delete=models.PROTECT, related_name="+")
    target_class = models.PositiveSmallIntegerField(null=True, blank=True, help_text="GB 3838-2002 class I..V")
    limit = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True,
                                help_text="the target class's standard value: a month complies when value <= limit")
    baseline = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True,
                                   help_text="composite index: the base concentration C0")
    weight = models.DecimalField(max_digits=6, decimal_places=4, null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "indicator"], name="version_indicator_once"),
            models.CheckConstraint(condition=Q(baseline__isnull=True) | Q(baseline__gt=0), name="baseline_positive"),
        ]


class AgreementSignature(models.Model):
    version = models.ForeignKey(AgreementVersion, on_delete=models.PROTECT, related_name="signatures")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    content_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["version", "organization"], name="one_signature_per_party")]


class Measurement(models.Model):
    section = models.ForeignKey(MonitoringSection, on_delete=models.PROTECT, related_name="measurements")
    indicator = models.ForeignKey(Indicator, on_delete=models.PROTECT, related_name="+")
    month = models.DateField(help_text="the first day of the month measured")
    value = models.DecimalField(max_digits=14, decimal_places=4)
    version = models.PositiveIntegerField(default=1)
    reason = models.CharField(max_length=300, blank=True, help_text="required for a correction (version > 1)")
    station = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    submitted_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=8, default="api")  # api | csv | demo
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["section_id", "indicator_id", "month", "version"]
        constraints = [
            models.UniqueConstraint(fields=["section", "indicator", "month", "version"],
                                    name="measurement_version_unique"),
            models.CheckConstraint(condition=Q(version=1) | ~Q(reason=""), name="correction_has_reason"),
            models.CheckConstraint(condition=Q(month__day=1), name="measurement_month_first_day"),
        ]


class PeriodStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    FUNDED = "funded", "Funded (escrow held)"
    ASSESSED = "assessed", "Assessed"
    SETTLED = "settled", "Settled"
    CANCELLED = "cancelled", "Cancelled"


class Period(models.Model):
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="periods")
    version = models.ForeignKey(AgreementVersion, on_delete=models.PROTECT, related_name="period_rows")
    start = models.DateField()
    end = models.DateField(help_text="inclusive")
    status = models.CharField(max_length=10, choices=PeriodStatus.choices, default=PeriodStatus.SCHEDULED)
    funded_at = models.DateTimeField(null=True, blank=True)
    funding_error = models.CharField(max_length=200, blank=True)
    hold_transactions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["agreement_id", "start"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "start"], condition=~Q(status="cancelled"),
                                    name="one_live_period_per_start"),
            models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="period_end_after_start"),
        ]


class AssessmentStatus(models.TextChoices):
    PENDING = "pending", "Awaiting approval"
    APPROVED = "approved", "Approved (waiting for the objection window)"
    SETTLED = "settled", "Settled"
    REJECTED = "rejected", "Rejected"


class Assessment(models.Model):
    """One computation of a period's result. `steps` is the computation as a person checks it: inputs,
    intermediate values and the rule applied, in order; `transfers` the outcome
    ([{"payer": org id, "payee": org id, "amount": fen}])."""

    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="assessments")
    attempt = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, choices=AssessmentStatus.choices, default=AssessmentStatus.PENDING)
    computed_at = models.DateTimeField()
    inputs = models.JSONField(help_text="measurement ids, versions and values used")
    data_mark = models.BigIntegerField(default=0, help_text="the highest measurement id when computed: newer data "
                                                            "after a rejection brings a new assessment")
    steps = models.JSONField()
    outcome = models.CharField(max_length=200)
    transfers = models.JSONField()
    objection_until = models.DateTimeField()
    approved_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    settlement_transactions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["period_id", "attempt"]
        constraints = [
            models.UniqueConstraint(fields=["period"], condition=~Q(status="rejected"), name="one_live_assessment"),
            models.UniqueConstraint(fields=["period", "attempt"], name="assessment_attempt_unique"),
            models.CheckConstraint(condition=~Q(status="settled") | Q(settled_at__isnull=False),
                                   name="settled_assessment_has_time"),
        ]


class Objection(models.Model):
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="objections")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=10, default="open")  # open | dismissed | upheld
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    resolution = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class CompensationApproval(models.Model):
    """A four-eyes approval of an agreement version or of an assessment (exactly one of the two), with the
    semantics of oversight.approvals: `required` distinct people, the final one from the regulator whose
    jurisdiction is `jurisdiction`, nobody with any membership in a party."""

    version = models.OneToOneField(AgreementVersion, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="approval")
    assessment = models.OneToOneField(Assessment, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="approval")
    jurisdiction = models.CharField(max_length=6)
    required = models.PositiveSmallIntegerField(default=2)
    party_ids = models.JSONField(help_text="organizations whose members may not decide")
    region_codes = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    opened_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(
            condition=(Q(version__isnull=False) & Q(assessment__isnull=True))
            | (Q(version__isnull=True) & Q(assessment__isnull=False)), name="approval_one_subject")]


class ApprovalDecision(models.Model):
    approval = models.ForeignKey(CompensationApproval, on_delete=models.PROTECT, related_name="decisions")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=8)  # approve | reject
    reason = models.CharField(max_length=500, blank=True)
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["approval", "user"], name="one_decision_per_person")]
