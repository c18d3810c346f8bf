"""Market API representations: prices in yuan as decimal strings (2 places), quantities in the asset's unit."""
from rest_framework import serializers

from core.api import MinorUnitField, StrictSerializer, decimal_to_minor_or_error
from core.money import from_minor

from .models import Market, MarketProposal, SessionWindow


class SessionWindowSerializer(serializers.ModelSerializer):
    class Meta:
        model = SessionWindow
        fields = ["start", "end", "weekdays"]


class MarketSerializer(serializers.ModelSerializer):
    asset = serializers.CharField(source="asset.code")
    right_type = serializers.CharField(source="asset.right_type_id")
    subtype = serializers.CharField(source="asset.subtype")
    unit = serializers.CharField(source="asset.unit")
    vintage = serializers.IntegerField(source="asset.vintage", allow_null=True)
    tick_size = serializers.SerializerMethodField()
    lot_size = serializers.SerializerMethodField()
    min_quantity = serializers.SerializerMethodField()
    reference_price = serializers.SerializerMethodField()
    fee_min = serializers.SerializerMethodField()
    session_windows = SessionWindowSerializer(many=True, read_only=True)

    class Meta:
        model = Market
        fields = ["id", "code", "name_zh", "name_en", "asset", "right_type", "subtype", "unit", "vintage", "status",
                  "tick_size", "lot_size", "min_quantity", "price_band_bps", "reference_price", "always_open",
                  "session_windows", "fee_bps", "fee_min", "settlement_mode", "eod_cutoff", "current_session"]

    def get_tick_size(self, m) -> str:
        return from_minor(m.tick_size, 2)

    def get_lot_size(self, m) -> str:
        return from_minor(m.lot_size, m.asset.scale)

    def get_min_quantity(self, m) -> str:
        return from_minor(m.min_quantity, m.asset.scale)

    def get_reference_price(self, m) -> str | None:
        return None if m.reference_price is None else from_minor(m.reference_price, 2)

    def get_fee_min(self, m) -> str:
        return from_minor(m.fee_min, 2)


class MarketStatusInputSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=200)


class SessionWindowInputSerializer(StrictSerializer):
    start = serializers.TimeField()
    end = serializers.TimeField()
    weekdays = serializers.RegexField(r"^[1-7]{1,7}$", default="12345")


class MarketConfigInputSerializer(StrictSerializer):
    """A market's configuration as people write it: prices and fees in yuan, quantities in the asset's
    unit, as decimal strings. On create, `asset` (its code) and `code` are required; on PATCH, only the
    fields given change."""

    asset = serializers.CharField(max_length=60, required=False)
    code = serializers.SlugField(max_length=60, required=False)
    name_zh = serializers.CharField(max_length=120, required=False, allow_blank=True)
    name_en = serializers.CharField(max_length=160, required=False, allow_blank=True)
    tick_size = MinorUnitField(scale=2, required=False, help_text="yuan, e.g. \"0.01\"")
    lot_size = MinorUnitField(required=False, help_text="in the asset's unit, a whole number of units")
    min_quantity = MinorUnitField(required=False, help_text="in the asset's unit")
    price_band_bps = serializers.IntegerField(min_value=1, max_value=9999, required=False, allow_null=True)
    reference_price = MinorUnitField(scale=2, required=False, allow_null=True,
                                     help_text="yuan; the band's reference until the first session closes")
    fee_bps = serializers.IntegerField(min_value=0, max_value=10_000, required=False)
    fee_min = MinorUnitField(scale=2, positive=False, required=False, help_text="yuan per order and side")
    always_open = serializers.BooleanField(required=False)
    session_windows = SessionWindowInputSerializer(many=True, required=False)
    settlement_mode = serializers.ChoiceField(choices=["rtgs", "eod"], required=False)
    eod_cutoff = serializers.TimeField(required=False, allow_null=True)
    reason = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)

    def to_config(self, scale: int) -> dict:
        """The validated input in minor units (the proposal's `config`)."""
        data = dict(self.validated_data)
        data.pop("asset", None)
        data.pop("reason", None)
        for name in ("lot_size", "min_quantity"):
            if name in data:
                data[name] = decimal_to_minor_or_error(data[name], scale, name)
        if "session_windows" in data:
            data["session_windows"] = [[w["start"].isoformat(), w["end"].isoformat(), w["weekdays"]]
                                       for w in data["session_windows"]]
        if data.get("eod_cutoff") is not None:
            data["eod_cutoff"] = data["eod_cutoff"].isoformat()
        return data


class MarketProposalSerializer(serializers.ModelSerializer):
    asset = serializers.CharField(source="asset.code")
    market = serializers.IntegerField(source="market_id", allow_null=True)
    proposed_by = serializers.CharField(source="proposed_by.username")
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)

    class Meta:
        model = MarketProposal
        fields = ["id", "kind", "status", "asset", "market", "config", "proposed_by", "decided_by", "reason",
                  "created_at", "decided_at"]


class ProposalRejectInputSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=200)


# --- the participant view of the rules (schema only; marketplace.participant_rules builds the dicts) ---

class MarketRuleSerializer(serializers.Serializer):
    kind = serializers.CharField()
    codes = serializers.ListField(child=serializers.CharField(), help_text="the codes this rule refuses with")
    stages = serializers.ListField(child=serializers.CharField())
    params = serializers.DictField(help_text="the rule's parameters as the regulator set them")
    policy = serializers.CharField(help_text="what the rule encodes")


class MarketRulesSerializer(serializers.Serializer):
    market = serializers.IntegerField()
    rulebook_version = serializers.IntegerField(allow_null=True)
    effective_from = serializers.DateTimeField(allow_null=True)
    rules = MarketRuleSerializer(many=True)


class EligibilityFindingSerializer(serializers.Serializer):
    code = serializers.CharField()
    kind = serializers.CharField()
    needs_approval = serializers.BooleanField(help_text="true: a trade is possible but waits for approval")
    message = serializers.CharField()


class EligibilitySideSerializer(serializers.Serializer):
    eligible = serializers.BooleanField()
    findings = EligibilityFindingSerializer(many=True)


class MarketEligibilitySerializer(serializers.Serializer):
    market = serializers.IntegerField()
    organization = serializers.IntegerField()
    rulebook_version = serializers.IntegerField(allow_null=True)
    as_buyer = EligibilitySideSerializer()
    as_seller = EligibilitySideSerializer()
