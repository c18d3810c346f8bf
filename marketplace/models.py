"""Markets, trading sessions, HTTP idempotency records and the rulebook's data.

Design overview
---------------
* A `Market` trades one instrument (a ledger `Asset`: right type × subtype × vintage × origin) against
  CNY. Prices are integers in fen per whole unit of the asset; quantities are integers in the asset's
  minor unit. The lot size is a whole number of units (CHECK-ed in `market_create`), so a trade's value
  `price × quantity / 10**scale` is always an exact number of fen in the order book.
* Trading sessions are data: `SessionWindow` rows (local time windows on working days); a market with
  `always_open` trades around the clock in one session per calendar day. The session close price is
  the session's VWAP; it becomes the reference price for the next session's price band. The rollover
  happens lazily under the market lock when the first action of a new session arrives (and from beat),
  so no job has to run at the bell for prices to be right.
* `IdempotencyRecord` stores the response to a create/cancel request under (organization, key), in
  the same transaction as the change, so a replay returns the original response and a concurrent
  duplicate waits for the first and then replays it.
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy

from accounts.models import Organization, Region
from ledger.models import Asset


class MarketStatus(models.TextChoices):
    OPEN = "open", "Open"
    HALTED = "halted", "Halted"
    CLOSED = "closed", "Closed"


class SettlementMode(models.TextChoices):
    REAL_TIME = "rtgs", "Real-time gross"
    END_OF_DAY = "eod", "End of day"


class Market(models.Model):
    code = models.SlugField(unique=True, max_length=60)
    asset = models.OneToOneField(Asset, on_delete=models.PROTECT, related_name="market")
    name_zh = models.CharField(max_length=120, blank=True)
    name_en = models.CharField(max_length=160, blank=True)
    status = models.CharField(max_length=8, choices=MarketStatus.choices, default=MarketStatus.OPEN)
    tick_size = models.BigIntegerField(default=1, help_text="fen")
    lot_size = models.BigIntegerField(help_text="asset minor units; a whole number of units")
    min_quantity = models.BigIntegerField(help_text="asset minor units")
    price_band_bps = models.PositiveIntegerField(null=True, blank=True, default=1000,
                                                 help_text="±band around the reference price; null = no band")
    reference_price = models.BigIntegerField(null=True, blank=True, help_text="previous session's close (fen)")
    current_session = models.CharField(max_length=20, blank=True)
    always_open = models.BooleanField(default=True)
    fee_bps = models.PositiveIntegerField(default=0)
    fee_min = models.BigIntegerField(default=0, help_text="fen, per order and side")
    settlement_mode = models.CharField(max_length=4, choices=SettlementMode.choices, default=SettlementMode.REAL_TIME)
    eod_cutoff = models.TimeField(null=True, blank=True, help_text="local time of the end-of-day settlement")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = gettext_lazy("market")
        verbose_name_plural = gettext_lazy("markets")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(tick_size__gt=0) & Q(lot_size__gt=0) & Q(min_quantity__gt=0),
                                   name="market_positive_steps"),
            models.CheckConstraint(condition=Q(fee_min__gte=0), name="market_fee_min_non_negative"),
            models.CheckConstraint(condition=Q(fee_bps__lte=10000), name="market_fee_bps_max"),
        ]

    def __str__(self):
        return self.code


class SessionWindow(models.Model):
    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="session_windows")
    start = models.TimeField()
    end = models.TimeField()
    weekdays = models.CharField(max_length=7, default="12345", help_text="ISO weekdays, 1 = Monday")

    class Meta:
        verbose_name = gettext_lazy("session window")
        verbose_name_plural = gettext_lazy("session windows")
        ordering = ["start"]
        constraints = [models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="session_window_order")]


class Holiday(models.Model):
    date = models.DateField(unique=True)
    name = models.CharField(max_length=60, blank=True)

    class Meta:
        verbose_name = gettext_lazy("holiday")
        verbose_name_plural = gettext_lazy("holidays")


class SessionClose(models.Model):
    """A finished session's figures; `close` is its VWAP and the next session's reference price."""

    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="session_closes")
    session = models.CharField(max_length=20)
    open = models.BigIntegerField()
    high = models.BigIntegerField()
    low = models.BigIntegerField()
    close = models.BigIntegerField()
    volume = models.BigIntegerField()
    value = models.BigIntegerField()
    trades = models.IntegerField()
    closed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = gettext_lazy("session close")
        verbose_name_plural = gettext_lazy("session closes")
        constraints = [models.UniqueConstraint(fields=["market", "session"], name="one_close_per_session")]


class IdempotencyRecord(models.Model):
    organization_id = models.BigIntegerField()
    key = models.CharField(max_length=128)
    fingerprint = models.CharField(max_length=64)
    method_path = models.CharField(max_length=200)
    request_body = models.JSONField(default=dict)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = gettext_lazy("idempotency record")
        verbose_name_plural = gettext_lazy("idempotency records")
        constraints = [models.UniqueConstraint(fields=["organization_id", "key"], name="idempotency_per_org")]


# --- the rulebook as data (checks in marketplace.rules) --------------------------------------------

class RulebookVersion(models.Model):
    """A version of the rulebook. Orders, listings and trades record the version they were checked
    against. The version in force at time t is the one with the latest `effective_from` ≤ t."""

    version = models.PositiveIntegerField(unique=True)
    effective_from = models.DateTimeField()
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = gettext_lazy("rulebook version")
        verbose_name_plural = gettext_lazy("rulebook versions")
        ordering = ["-effective_from", "-version"]


class Rule(models.Model):
    """One rule of a rulebook version: `kind` names the check class (marketplace.rules.RULES), `params`
    its data. E.g. kind=guided_price, params={"right_type": "farmland", "region": "350100",
    "floor": 3000000, "ceiling": 8000000}."""

    rulebook = models.ForeignKey(RulebookVersion, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(max_length=40)
    params = models.JSONField(default=dict)
    enabled = models.BooleanField(default=True)

    class Meta:
        verbose_name = gettext_lazy("rule")
        verbose_name_plural = gettext_lazy("rules")
        ordering = ["id"]


class NonAttainmentFlag(models.Model):
    """A region that misses its air or water target for a pollutant in a period (no emission-rights
    inflow of that pollutant)."""

    region = models.ForeignKey(Region, on_delete=models.CASCADE)
    pollutant = models.CharField(max_length=10)
    period_start = models.DateField()
    period_end = models.DateField()

    class Meta:
        verbose_name = gettext_lazy("non-attainment flag")
        verbose_name_plural = gettext_lazy("non-attainment flags")
        constraints = [models.CheckConstraint(condition=Q(period_end__gte=models.F("period_start")),
                                              name="non_attainment_period")]


class DischargePermit(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="permits")
    number = models.CharField(max_length=40, unique=True)
    pollutants = models.JSONField(default=list)
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("discharge permit")
        verbose_name_plural = gettext_lazy("discharge permits")


class ProposalStatus(models.TextChoices):
    PENDING = "pending", "待复核 / Pending"
    APPLIED = "applied", "已生效 / Applied"
    REJECTED = "rejected", "已驳回 / Rejected"


class MarketProposal(models.Model):
    """A market created or reconfigured by the operator, four-eyes: one person proposes (`config`, in
    minor units, validated against the instrument when proposed), another person of the operator confirms
    (then the change is applied, in the same transaction) or rejects. The database refuses a decision by
    the proposer and an applied proposal without its market."""

    class Kind(models.TextChoices):
        CREATE = "create", "新建市场 / Create"
        UPDATE = "update", "修改配置 / Update"

    kind = models.CharField("类型", max_length=8, choices=Kind.choices)
    market = models.ForeignKey(Market, verbose_name="市场", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="proposals")
    asset = models.ForeignKey(Asset, verbose_name="交易标的", on_delete=models.PROTECT, related_name="+")
    config = models.JSONField("配置", default=dict)
    status = models.CharField("状态", max_length=8, choices=ProposalStatus.choices, default=ProposalStatus.PENDING)
    proposed_by = models.ForeignKey("accounts.User", verbose_name="提议人", on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey("accounts.User", verbose_name="复核人", on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+")
    reason = models.CharField("说明", max_length=200, blank=True)
    created_at = models.DateTimeField("提议时间", auto_now_add=True)
    decided_at = models.DateTimeField("复核时间", null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("market proposal")
        verbose_name_plural = gettext_lazy("market proposals")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(decided_by=models.F("proposed_by")), name="market_proposal_four_eyes"),
            models.CheckConstraint(condition=~Q(status="applied") | Q(market__isnull=False),
                                   name="market_proposal_applied_has_market"),
            models.CheckConstraint(condition=Q(status="pending") | Q(decided_by__isnull=False),
                                   name="market_proposal_decided_by_someone"),
        ]
