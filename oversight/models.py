"""The regulator's records: approval requests and their decisions, surveillance alerts, and the
settled-trade flow summary behind the reports.

Design overview
---------------
* `ApprovalRequest`: one per trade held PENDING_APPROVAL by the rulebook (opened by
  `oversight.approvals.approvals_sync`). It says which rules held the trade, which jurisdiction must give
  the final approval, how many approvals are needed (2, or 0 for a trade held only for public notice),
  the deadline and the half-time escalation, and the end of the public-notice period (公示). Its status
  changes (pending → approved | rejected | expired | cancelled); who decided what is in
  `ApprovalDecision`, which is append-only (database triggers refuse UPDATE and DELETE).
* `Alert`: one surveillance finding with its evidence, append-only. `fingerprint` (unique) makes
  detection idempotent: running a detector again never duplicates an alert.
* `FlowSummary` / `FlowTotal` / `FlowDelta`: settled trades aggregated per (local day, right type,
  origin region, destination region), and per (right type, origin, destination) for all time.
  Statement-level triggers on the trade table (`Trade`) record every trade that becomes settled (at settlement,
  or inserted settled): a statement touching few rows (a settlement) appends `FlowDelta` rows — no
  row is ever updated, so concurrent settlements never wait on a summary row; a bulk statement (≥ 1,000
  rows: loads, end-of-day batches) upserts straight into the summary and the totals. `flow_rollup`
  (beat) folds deltas in. Reports read summary ∪ deltas (or totals ∪ deltas), so they are exact at
  every commit while costing O(groups), not O(trades). `FlowMonthly` is the summary by month (a row
  trigger on the summary keeps it), for reports over whole months.
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy

from accounts.models import Organization, User
from trading.models import Trade


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled (the trade ended otherwise)"


class ApprovalRequest(models.Model):
    trade = models.OneToOneField(Trade, on_delete=models.PROTECT, related_name="approval_request")
    status = models.CharField(max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    rule_codes = models.JSONField(default=list, help_text="codes of the rules that hold the trade")
    rule_version = models.PositiveIntegerField(null=True)
    jurisdiction = models.CharField(max_length=6, blank=True,
                                    help_text="region code of the regulator whose approval is final; blank: none")
    required_approvals = models.PositiveSmallIntegerField(default=2)
    proposer_user_ids = models.JSONField(default=list, help_text="users who may not approve (four eyes)")
    region_codes = models.JSONField(default=list, help_text="buyer, seller, origin and jurisdiction regions")
    pending_since = models.DateTimeField()
    deadline = models.DateTimeField(null=True, blank=True)
    escalate_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    notice_until = models.DateTimeField(null=True, blank=True)
    approvals_completed_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    outcome_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = gettext_lazy("approval request")
        verbose_name_plural = gettext_lazy("approval requests")
        ordering = ["id"]
        indexes = [models.Index(fields=["pending_since"], name="approval_pending",
                                condition=Q(status="pending"))]

    @property
    def approvals_complete(self) -> bool:
        return self.approvals_completed_at is not None or self.required_approvals == 0


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    OBJECT = "object", "Object (public notice)"


class ApprovalDecision(models.Model):
    """Who approved, rejected or objected, when and why. Append-only."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.PROTECT, related_name="decisions")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=10)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = gettext_lazy("approval decision")
        verbose_name_plural = gettext_lazy("approval decisions")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["request", "user"], condition=Q(decision="approve"),
                                               name="one_approval_per_person")]


class AlertKind(models.TextChoices):
    WASH_TRADE = "wash_trade", "Wash trade (round trip between linked organizations)"
    SELF_DEALING = "self_dealing", "Self-dealing (trade between linked organizations)"
    OFF_VWAP = "off_vwap", "Printed far from the trailing VWAP"
    CONCENTRATION = "concentration", "Holding above the concentration threshold"
    CANCEL_RATIO = "cancel_ratio", "Cancel-to-trade ratio spike"
    APPROVAL_OVERDUE = "approval_overdue", "Approval past half its deadline"
    COMPLIANCE_SHORTFALL = "compliance_shortfall", "Allowances surrendered short of verified emissions"
    ASSISTANCE_SHORTFALL = "assistance_shortfall", "Paired-assistance payments short of the annual minimum"


class Alert(models.Model):
    """A surveillance finding with the evidence it rests on. Append-only."""

    kind = models.CharField(max_length=20, choices=AlertKind.choices, db_index=True)
    severity = models.CharField(max_length=8, default="medium")
    fingerprint = models.CharField(max_length=200, unique=True)
    summary = models.CharField(max_length=300)
    organization_ids = models.JSONField(default=list)
    trade_ids = models.JSONField(default=list)
    asset_id = models.BigIntegerField(null=True, blank=True)
    evidence = models.JSONField(default=dict)
    region_codes = models.JSONField(default=list)
    detected_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = gettext_lazy("alert")
        verbose_name_plural = gettext_lazy("alerts")
        ordering = ["-id"]


class FlowSummary(models.Model):
    """Settled trades per (local settlement day, right type, origin region, destination region)."""

    day = models.DateField()
    right_type = models.CharField(max_length=30)
    origin_region = models.CharField(max_length=6)
    dest_region = models.CharField(max_length=6)
    trades = models.BigIntegerField(default=0)
    quantity = models.DecimalField(max_digits=38, decimal_places=6, help_text="whole units")
    value = models.BigIntegerField(default=0, help_text="fen")

    class Meta:
        verbose_name = gettext_lazy("flow summary")
        verbose_name_plural = gettext_lazy("flow summaries")
        constraints = [models.UniqueConstraint(fields=["day", "right_type", "origin_region", "dest_region"],
                                               name="flow_summary_key")]


class FlowTotal(models.Model):
    """Settled trades of all time per (right type, origin region, destination region): the flow matrix
    without a date range reads this (a few thousand rows at most)."""

    right_type = models.CharField(max_length=30)
    origin_region = models.CharField(max_length=6)
    dest_region = models.CharField(max_length=6)
    trades = models.BigIntegerField(default=0)
    quantity = models.DecimalField(max_digits=38, decimal_places=6, help_text="whole units")
    value = models.BigIntegerField(default=0, help_text="fen")

    class Meta:
        verbose_name = gettext_lazy("flow total")
        verbose_name_plural = gettext_lazy("flow totals")
        constraints = [models.UniqueConstraint(fields=["right_type", "origin_region", "dest_region"],
                                               name="flow_total_key")]


class FlowMonthly(models.Model):
    """`FlowSummary` by calendar month (`month` = its first day), kept by a row trigger on the summary
    (each insert or update of a summary row adds its change here), so a year-long monthly report reads
    a few thousand rows instead of hundreds of thousands of daily ones (`oversight.reports.volume_report`;
    the 1M-trade bench: ~500k daily rows, ~18k monthly)."""

    month = models.DateField()
    right_type = models.CharField(max_length=30)
    origin_region = models.CharField(max_length=6)
    dest_region = models.CharField(max_length=6)
    trades = models.BigIntegerField(default=0)
    quantity = models.DecimalField(max_digits=38, decimal_places=6, help_text="whole units")
    value = models.BigIntegerField(default=0, help_text="fen")

    class Meta:
        verbose_name = gettext_lazy("monthly flow summary")
        verbose_name_plural = gettext_lazy("monthly flow summaries")
        constraints = [models.UniqueConstraint(fields=["month", "right_type", "origin_region", "dest_region"],
                                               name="flow_monthly_key")]


class FlowDelta(models.Model):
    """Settled trades not yet folded into `FlowSummary` (written by a trigger on the trade table)."""

    day = models.DateField()
    right_type = models.CharField(max_length=30)
    origin_region = models.CharField(max_length=6)
    dest_region = models.CharField(max_length=6)
    trades = models.BigIntegerField(default=0)
    quantity = models.DecimalField(max_digits=38, decimal_places=6)
    value = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = gettext_lazy("flow delta")
        verbose_name_plural = gettext_lazy("flow deltas")


class SurveillanceWatermark(models.Model):
    """How far surveillance has read the trade table: the highest trade id every trade detector has
    seen (one row, name `trades`). A run reads only trades above it, so its cost follows the new trades,
    not the history. Trades younger than OVERSIGHT_SURVEILLANCE_LAG_SECONDS at the run are read but do
    not move the mark (a transaction holding a lower id may still commit); a second read of them is
    harmless (alert fingerprints are unique)."""

    name = models.CharField(max_length=40, primary_key=True)
    last_trade_id = models.BigIntegerField(default=0)
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("surveillance watermark")
        verbose_name_plural = gettext_lazy("surveillance watermarks")
