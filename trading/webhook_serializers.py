"""Webhook endpoints and settlement reports: input and output representations."""
from rest_framework import serializers

from accounts.api_common import MinorUnitField, StrictSerializer

from .models import WebhookDelivery, WebhookEndpoint
from .webhooks import EVENTS, participant_error


class WebhookEndpointCreateSerializer(StrictSerializer):
    url = serializers.URLField(max_length=400, help_text="http(s) URL that receives the POSTs")
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENTS), required=False, default=list,
                                   allow_empty=True, help_text="subset of matched, settled, failed; empty = all")


class WebhookRotateSerializer(StrictSerializer):
    overlap_seconds = serializers.IntegerField(
        required=False, min_value=0, max_value=7 * 86400,
        help_text="how long the old secret keeps signing beside the new one (default the server's "
                  "WEBHOOK_SECRET_OVERLAP_SECONDS; 0 = at once, e.g. after a leak)")


class WebhookEndpointSerializer(serializers.ModelSerializer):
    secret_hint = serializers.SerializerMethodField(help_text="the secret's last four characters")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "active", "created_at", "secret_hint", "previous_secret_until"]

    def get_secret_hint(self, obj) -> str:
        return "…" + obj.secret[-4:]


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(help_text="shown once (whsec_…): keep it to verify webhook-signature")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = WebhookEndpointSerializer.Meta.fields + ["secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    """A participant's view: `last_error` is generic ("delivery failed"); the detail is the operator's."""

    last_error = serializers.SerializerMethodField(help_text='"delivery failed" after a failed attempt, else ""')

    class Meta:
        model = WebhookDelivery
        fields = ["id", "trade_id", "event", "status", "attempts", "next_attempt_at", "last_error", "created_at",
                  "delivered_at"]

    def get_last_error(self, obj) -> str:
        return participant_error(obj.last_error)


class OperatorWebhookDeliverySerializer(serializers.ModelSerializer):
    """The operator's view of any organization's deliveries, with the error's detail."""

    organization = serializers.IntegerField(source="endpoint.organization_id")
    url = serializers.CharField(source="endpoint.url")

    class Meta:
        model = WebhookDelivery
        fields = ["id", "endpoint", "organization", "url", "trade_id", "event", "status", "attempts",
                  "next_attempt_at", "last_error", "created_at", "delivered_at"]


class FailedTradeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    value = serializers.CharField()
    reason = serializers.CharField(allow_blank=True, allow_null=True)


class SettlementBatchSerializer(serializers.Serializer):
    date = serializers.DateField()
    market = serializers.IntegerField(allow_null=True)
    market_code = serializers.CharField(allow_null=True)
    asset = serializers.CharField()
    settlement_mode = serializers.CharField()
    cutoff = serializers.DateTimeField(allow_null=True)
    trades = serializers.IntegerField()
    settled = serializers.IntegerField()
    settled_value = serializers.CharField()
    settled_quantity = serializers.CharField()
    buyer_fees = serializers.CharField()
    seller_fees = serializers.CharField()
    fees = serializers.CharField()
    failed = serializers.IntegerField()
    failed_value = serializers.CharField()
    pending = serializers.IntegerField()
    pending_value = serializers.CharField()
    first_settled_at = serializers.DateTimeField(allow_null=True)
    last_settled_at = serializers.DateTimeField(allow_null=True)
    failed_trades = FailedTradeSerializer(many=True)


class EarmarkedFundSerializer(serializers.Serializer):
    organization = serializers.IntegerField()
    name = serializers.CharField()
    region = serializers.CharField()
    received = serializers.CharField(help_text="proceeds of quota sales, yuan")
    sales = serializers.IntegerField()
    paid_out = serializers.CharField()
    payouts = serializers.IntegerField()
    by_purpose = serializers.DictField(child=serializers.CharField())
    balance = serializers.CharField()


class EarmarkedPayoutInput(StrictSerializer):
    organization = serializers.IntegerField(required=False, help_text="the fund's holder (operator only; "
                                                                      "a government body pays out of its own)")
    amount = MinorUnitField(scale=2, help_text="yuan, e.g. \"120000.00\"")
    purpose_code = serializers.CharField(max_length=40)
    description = serializers.CharField(max_length=500)
    bank_reference = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
