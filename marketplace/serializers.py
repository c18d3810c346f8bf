"""Market API representations: prices in yuan as decimal strings (2 places), quantities in the asset's unit."""
from rest_framework import serializers

from core.api import StrictSerializer
from core.money import from_minor

from .models import Market, SessionWindow


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
