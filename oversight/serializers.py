"""Input and output shapes of the oversight API. Amounts at the edge are decimal strings: prices and
values in CNY (prices per whole unit), quantities in whole units of the instrument."""
from __future__ import annotations

from rest_framework import serializers

from accounts.models import AuditEvent
from core.api import LocalTimesJSONField, StrictSerializer
from core.money import from_minor
from marketplace.models import Market, NonAttainmentFlag, RulebookVersion
from marketplace.rules import RULES
from trading.models import Trade

from .models import Alert, ApprovalDecision, ApprovalRequest


class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500)


class CommentSerializer(StrictSerializer):
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RuleInputSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=sorted(RULES))
    params = serializers.DictField(required=False, default=dict)
    enabled = serializers.BooleanField(required=False, default=True)


class RulebookCreateSerializer(StrictSerializer):
    effective_from = serializers.DateTimeField(required=False, help_text="default: now; never in the past")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    rules = RuleInputSerializer(many=True, allow_empty=True)


class FlagCreateSerializer(StrictSerializer):
    region = serializers.RegexField(r"^[1-8][0-9]{5}$")
    pollutant = serializers.CharField(max_length=10)
    period_start = serializers.DateField()
    period_end = serializers.DateField()


class SurveillanceRunSerializer(StrictSerializer):
    window_hours = serializers.IntegerField(min_value=1, max_value=24 * 90, required=False)


# --- outputs -------------------------------------------------------------------------------------------

class TradeRowSerializer(serializers.ModelSerializer):
    asset = serializers.SerializerMethodField()
    right_type = serializers.SerializerMethodField()
    subtype = serializers.SerializerMethodField()
    origin_region = serializers.SerializerMethodField()
    market = serializers.SlugRelatedField(slug_field="code", read_only=True)
    buyer_region = serializers.CharField(source="buyer.region_id", read_only=True)
    seller_region = serializers.CharField(source="seller.region_id", read_only=True)
    price = serializers.SerializerMethodField()
    quantity = serializers.SerializerMethodField()
    value = serializers.SerializerMethodField()

    class Meta:
        model = Trade
        fields = ["id", "status", "source", "market", "listing_id", "asset", "right_type", "subtype", "origin_region",
                  "buyer", "buyer_region", "seller", "seller_region", "price", "quantity", "value", "rule_version",
                  "ledger_transaction_id", "failure_reason", "created_at", "settled_at"]

    def _asset(self, obj) -> tuple:
        return self.context["assets"].get(obj.asset_id, ("", "", "", "", 0))

    def get_asset(self, obj) -> str:
        return self._asset(obj)[0]

    def get_right_type(self, obj) -> str:
        return self._asset(obj)[1]

    def get_subtype(self, obj) -> str:
        return self._asset(obj)[2]

    def get_origin_region(self, obj) -> str:
        return self._asset(obj)[3] or ""

    def get_price(self, obj) -> str:
        return from_minor(obj.price, 2)

    def get_quantity(self, obj) -> str:
        return from_minor(obj.quantity, self._asset(obj)[4])

    def get_value(self, obj) -> str:
        return from_minor(obj.value, 2)


class AuditEventSerializer(serializers.ModelSerializer):
    before = LocalTimesJSONField(read_only=True)
    after = LocalTimesJSONField(read_only=True)

    class Meta:
        model = AuditEvent
        fields = ["id", "occurred_at", "action", "object_type", "object_id", "actor_user", "actor_organization",
                  "before", "after", "request_id", "region_codes"]


class DecisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApprovalDecision
        fields = ["decision", "user", "organization", "role", "reason", "created_at"]


class ApprovalSerializer(serializers.ModelSerializer):
    decisions = DecisionSerializer(many=True, read_only=True)
    approvals = serializers.SerializerMethodField()
    trade_status = serializers.CharField(source="trade.status", read_only=True)

    class Meta:
        model = ApprovalRequest
        fields = ["id", "trade", "trade_status", "status", "rule_codes", "rule_version", "jurisdiction",
                  "required_approvals", "approvals", "proposer_user_ids", "pending_since", "deadline", "escalate_at",
                  "escalated_at", "notice_until", "approvals_completed_at", "decided_at", "outcome_reason",
                  "decisions"]

    def get_approvals(self, obj) -> int:
        return sum(1 for d in obj.decisions.all() if d.decision == "approve")


class AlertSerializer(serializers.ModelSerializer):
    evidence = LocalTimesJSONField(read_only=True)

    class Meta:
        model = Alert
        fields = ["id", "kind", "severity", "summary", "organization_ids", "trade_ids", "asset_id", "evidence",
                  "region_codes", "detected_at"]


class RulebookSerializer(serializers.ModelSerializer):
    rules = serializers.SerializerMethodField()

    class Meta:
        model = RulebookVersion
        fields = ["version", "effective_from", "description", "created_at", "rules"]

    def get_rules(self, obj) -> list[dict]:
        return [{"kind": r.kind, "params": r.params, "enabled": r.enabled,
                 "codes": list(RULES[r.kind].codes or (RULES[r.kind].code,)) if r.kind in RULES else []}
                for r in obj.rules.all()]


class FlagSerializer(serializers.ModelSerializer):
    class Meta:
        model = NonAttainmentFlag
        fields = ["id", "region", "pollutant", "period_start", "period_end"]


class OversightMarketSerializer(serializers.ModelSerializer):
    asset = serializers.CharField(source="asset.code", read_only=True)
    right_type = serializers.CharField(source="asset.right_type_id", read_only=True)
    origin_region = serializers.CharField(source="asset.origin_region_id", read_only=True)

    class Meta:
        model = Market
        fields = ["id", "code", "asset", "right_type", "origin_region", "status"]


class OrganizationStatusSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name_zh = serializers.CharField()
    kind = serializers.CharField()
    region = serializers.CharField(source="region_id")
    status = serializers.CharField()


# --- report shapes (schema only: the views return the report functions' dicts as they are) ------------

class VolumeRowSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="start date of the period (local, YYYY-MM-DD)")
    right_type = serializers.CharField()
    region = serializers.CharField(help_text="county code, or city/province code with level=city/province")
    trades = serializers.IntegerField()
    volume = serializers.CharField(help_text="whole units, decimal string")
    value = serializers.CharField(help_text="CNY, decimal string")
    vwap = serializers.CharField(allow_null=True, help_text="CNY per unit, decimal string")


class VolumeReportSerializer(serializers.Serializer):
    rows = VolumeRowSerializer(many=True)


class FlowRowSerializer(serializers.Serializer):
    right_type = serializers.CharField()
    origin = serializers.CharField()
    destination = serializers.CharField()
    trades = serializers.IntegerField()
    quantity = serializers.CharField(help_text="whole units, decimal string")
    value = serializers.CharField(help_text="CNY, decimal string")


class FlowReportSerializer(serializers.Serializer):
    rows = FlowRowSerializer(many=True)


class FarmlandProceedsRowSerializer(serializers.Serializer):
    region = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    accounts = serializers.IntegerField()
    balance = serializers.CharField(help_text="CNY, decimal string")
    received = serializers.CharField(help_text="CNY, decimal string")
    receipts = serializers.IntegerField()


class FarmlandProceedsReportSerializer(serializers.Serializer):
    rows = FarmlandProceedsRowSerializer(many=True)


class ConcentrationHolderSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    organization = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    holding = serializers.CharField(help_text="in the asset's unit, decimal string")
    share_pct = serializers.CharField(help_text="percent, two places")


class ConcentrationRowSerializer(serializers.Serializer):
    asset_id = serializers.IntegerField()
    asset = serializers.CharField()
    total = serializers.CharField()
    holders = serializers.IntegerField()
    hhi = serializers.IntegerField(help_text="Herfindahl-Hirschman index, 0-10000")
    top = ConcentrationHolderSerializer(many=True)


class ConcentrationReportSerializer(serializers.Serializer):
    rows = ConcentrationRowSerializer(many=True)


class PendingApprovalRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    trade = serializers.IntegerField()
    rule_codes = serializers.ListField(child=serializers.CharField())
    rules = serializers.ListField(child=serializers.CharField(), help_text="deprecated: the old name of rule_codes")
    jurisdiction = serializers.CharField(allow_null=True)
    approvals = serializers.IntegerField()
    required_approvals = serializers.IntegerField()
    required = serializers.IntegerField(help_text="deprecated: the old name of required_approvals")
    pending_since = serializers.DateTimeField()
    age_seconds = serializers.IntegerField()
    deadline = serializers.DateTimeField(allow_null=True)
    overdue = serializers.BooleanField()
    escalated = serializers.BooleanField()
    notice_until = serializers.DateTimeField(allow_null=True)


class PendingApprovalsReportSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    oldest_age_seconds = serializers.IntegerField(allow_null=True)
    average_age_seconds = serializers.IntegerField(allow_null=True)
    escalated = serializers.IntegerField()
    requests = PendingApprovalRowSerializer(many=True)
