"""Webhook endpoints and deliveries: input and output representations."""
from rest_framework import serializers

from core.api import StrictSerializer
from trading.models import WebhookDelivery, WebhookEndpoint
from trading.notifications.delivery import EVENTS


class WebhookEndpointCreateSerializer(StrictSerializer):
    url = serializers.URLField(max_length=400, help_text="http(s) URL that receives the POSTs")
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENTS), required=False, default=list,
                                   allow_empty=True, help_text="subset of matched, settled, failed; empty = all")


class WebhookEndpointSerializer(serializers.ModelSerializer):
    secret_hint = serializers.SerializerMethodField(help_text="the secret's last four characters")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "active", "created_at", "secret_hint"]

    def get_secret_hint(self, obj) -> str:
        return "…" + obj.secret[-4:]


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(help_text="shown once: keep it to verify X-Signature")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = WebhookEndpointSerializer.Meta.fields + ["secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "trade_id", "event", "status", "attempts", "next_attempt_at", "last_error", "created_at",
                  "delivered_at"]
