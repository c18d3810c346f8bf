"""Webhook endpoints and deliveries: input and output representations."""
from rest_framework import serializers

from core.api import StrictSerializer
from trading.models import WebhookDelivery, WebhookEndpoint
from trading.notifications.delivery import EVENTS, participant_error


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
