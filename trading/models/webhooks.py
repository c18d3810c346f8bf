"""Outgoing notifications: the webhook endpoints organizations register and the deliveries of trade
events to them (written in the transaction of the trade's transition; see `trading.notifications`)."""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy

from accounts.models import Organization


class WebhookEndpoint(models.Model):
    """Where an organization wants trade events posted (Standard Webhooks signatures with `secret`, and
    with `previous_secret` too until `previous_secret_until`: the overlap window of a rotation)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=400)
    secret = models.CharField(max_length=80)
    previous_secret = models.CharField(max_length=80, blank=True, default="")
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    events = models.JSONField(default=list, help_text="subset of matched, settled, failed; empty = all")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = gettext_lazy("webhook endpoint")
        verbose_name_plural = gettext_lazy("webhook endpoints")


class WebhookDelivery(models.Model):
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    trade_id = models.BigIntegerField()
    event = models.CharField(max_length=20)
    payload = models.JSONField()
    status = models.CharField(max_length=10, default="pending")  # pending, delivered, gave_up
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("webhook delivery")
        verbose_name_plural = gettext_lazy("webhook deliveries")
        constraints = [models.UniqueConstraint(fields=["endpoint", "trade_id", "event"], name="one_delivery_per_event")]
