"""Paired assistance between governments (山海协作对口帮扶) and farmland buyers' support commitments
(耕地占补对口帮扶).

Design overview
---------------
* `AssistancePair`: a stronger county/city government (the payer) and its paired key county (the
  payee). One row per ordered pair; its terms live in versions.
* `PairAgreement`: a version of the pair's terms — the annual minimum (fen; the plan's floor is
  `services.PLAN_MINIMUM`, 12 million yuan a year) from `effective_year` on. Proposed by a party's admin or
  the provincial regulator, approved by another person of the provincial regulator who belongs to
  neither party (four eyes). Versions are never edited: the terms in force for year Y are the approved
  version with the highest number among those effective by Y. The database refuses an agreement decided
  by its own proposer and a decided status without its decider.
* `AssistancePayment`: money from the payer to the payee, maker–checker inside the paying government
  (one member proposes, another admin/approver of the same government confirms; never the same user, a
  CHECK too). The confirmation posts one ledger transaction of kind `assistance_payment` (or
  `assistance_support` for a commitment's cash) from the payer's free cash to the payee's paired-assistance fund,
  with the purpose code in its memo (`ledger.earmark.earmarked_receipt`); its idempotency key is the
  proposal's. Attributed to an obligation `year` (the current or the previous one).
* `SupportCommitment`: what the buyer of a settled farmland-quota trade promised the selling region on
  top of the price (industry transfer, infrastructure, cash), with an amount and a due date;
  `CommitmentFulfilment` rows record what was delivered (cash: a confirmed payment; in kind: with
  evidence). `fulfilled_amount` is kept in the same transaction as each fulfilment; status `fulfilled`
  once it reaches the amount. Overdue = open past its due date (computed, not stored).
* `YearClose`: the year-end watermark of the shortfall task — one row per closed year, so the task
  reads only years it has not closed (incremental); alert fingerprints make a rerun harmless.
"""
from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from accounts.models import Organization, User
from ledger.models import LedgerTransaction
from trading.models import Trade


class AssistancePair(models.Model):
    payer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    payee = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["payer", "payee"], name="assistance_one_pair"),
            models.CheckConstraint(condition=~Q(payer=F("payee")), name="assistance_pair_distinct"),
        ]

    def __str__(self):
        return f"{self.payer_id}→{self.payee_id}"


class DecisionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class PairAgreement(models.Model):
    pair = models.ForeignKey(AssistancePair, on_delete=models.PROTECT, related_name="agreements")
    version = models.PositiveIntegerField()
    annual_minimum = models.BigIntegerField(help_text="fen a year")
    effective_year = models.PositiveSmallIntegerField()
    description = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=DecisionStatus.choices, default=DecisionStatus.PENDING)
    proposed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    proposer_organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_by_organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT,
                                                related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["pair_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["pair", "version"], name="assistance_agreement_version"),
            models.CheckConstraint(condition=Q(annual_minimum__gt=0), name="assistance_agreement_minimum_positive"),
            models.CheckConstraint(condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("proposed_by")),
                                   name="assistance_agreement_four_eyes"),
            models.CheckConstraint(condition=Q(status="pending", decided_by__isnull=True)
                                   | (~Q(status="pending") & Q(decided_by__isnull=False)),
                                   name="assistance_agreement_decided_by"),
        ]


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending confirmation"
    CONFIRMED = "confirmed", "Confirmed and posted"
    REJECTED = "rejected", "Rejected"


class PaymentKind(models.TextChoices):
    PAIR = "pair", "Paired-assistance payment"
    SUPPORT = "support", "Cash fulfilment of a support commitment"


class AssistancePayment(models.Model):
    kind = models.CharField(max_length=8, choices=PaymentKind.choices)
    pair = models.ForeignKey(AssistancePair, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    commitment = models.ForeignKey("SupportCommitment", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="payments")
    year = models.PositiveSmallIntegerField(help_text="the obligation year the payment counts for")
    payer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    payee = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField(help_text="fen")
    purpose_code = models.CharField(max_length=40)
    description = models.CharField(max_length=300)
    idempotency_key = models.CharField(max_length=200, unique=True, help_text="<organization>:<kind>:<client key>")
    request = models.JSONField(help_text="the proposal (amount in fen), compared on a replay")
    status = models.CharField(max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    proposed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    proposer_role = models.CharField(max_length=10)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    transaction = models.OneToOneField(LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="+")

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["pair", "year"], name="assistance_payment_pair_year")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="assistance_payment_positive"),
            models.CheckConstraint(condition=~Q(payer=F("payee")), name="assistance_payment_distinct"),
            models.CheckConstraint(condition=Q(kind="pair", pair__isnull=False, commitment__isnull=True)
                                   | Q(kind="support", pair__isnull=True, commitment__isnull=False),
                                   name="assistance_payment_subject"),
            models.CheckConstraint(condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("proposed_by")),
                                   name="assistance_payment_checker_is_not_maker"),
            models.CheckConstraint(
                condition=(Q(status="pending", decided_by__isnull=True, transaction__isnull=True)
                           | Q(status="confirmed", decided_by__isnull=False, transaction__isnull=False)
                           | Q(status="rejected", decided_by__isnull=False, transaction__isnull=True)),
                name="assistance_payment_status_consistent"),
        ]


class CommitmentKind(models.TextChoices):
    INDUSTRY_TRANSFER = "industry_transfer", "Industry transfer (产业转移)"
    INFRASTRUCTURE = "infrastructure", "Infrastructure (基础设施)"
    CASH = "cash", "Cash (资金)"


class CommitmentStatus(models.TextChoices):
    OPEN = "open", "Open"
    FULFILLED = "fulfilled", "Fulfilled"


class SupportCommitment(models.Model):
    trade = models.ForeignKey(Trade, on_delete=models.PROTECT, related_name="+")
    supporter = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+",
                                  help_text="the buyer of the farmland quotas")
    beneficiary = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+",
                                    help_text="the region that supplied them (the trade's seller)")
    kind = models.CharField(max_length=20, choices=CommitmentKind.choices)
    amount = models.BigIntegerField(help_text="fen (for in-kind support: its value)")
    due_date = models.DateField()
    description = models.CharField(max_length=300)
    fulfilled_amount = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=CommitmentStatus.choices, default=CommitmentStatus.OPEN)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["due_date"], name="assistance_commitment_open_due",
                                condition=Q(status="open"))]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="assistance_commitment_positive"),
            models.CheckConstraint(condition=Q(fulfilled_amount__gte=0), name="assistance_commitment_fulfilled_gte_0"),
            models.CheckConstraint(condition=Q(status="open", fulfilled_amount__lt=F("amount"))
                                   | Q(status="fulfilled", fulfilled_amount__gte=F("amount")),
                                   name="assistance_commitment_status_consistent"),
        ]


class FulfilmentKind(models.TextChoices):
    CASH = "cash", "Cash (a confirmed ledger payment)"
    IN_KIND = "in_kind", "In kind, with evidence"


class CommitmentFulfilment(models.Model):
    commitment = models.ForeignKey(SupportCommitment, on_delete=models.PROTECT, related_name="fulfilments")
    kind = models.CharField(max_length=8, choices=FulfilmentKind.choices)
    amount = models.BigIntegerField()
    description = models.CharField(max_length=300)
    evidence = models.JSONField(default=dict, blank=True)
    payment = models.OneToOneField(AssistancePayment, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="fulfilment")
    recorded_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="assistance_fulfilment_positive"),
            models.CheckConstraint(condition=Q(kind="cash", payment__isnull=False)
                                   | Q(kind="in_kind", payment__isnull=True), name="assistance_fulfilment_kind"),
        ]


class YearClose(models.Model):
    year = models.PositiveSmallIntegerField(primary_key=True)
    closed_at = models.DateTimeField(auto_now_add=True)
    pairs = models.PositiveIntegerField(default=0)
    shortfalls = models.PositiveIntegerField(default=0)
