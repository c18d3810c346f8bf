"""Reads of webhook endpoints and their deliveries."""
from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Organization
from trading.models import WebhookDelivery, WebhookEndpoint


def organization_endpoints(organization: Organization) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organization=organization).order_by("id")


def endpoint_deliveries(endpoint: WebhookEndpoint, *, limit: int = 100) -> QuerySet[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first."""
    return WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-id")[:limit]
