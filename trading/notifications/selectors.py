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


def all_deliveries(*, organization_id: int | None = None, status: str | None = None) -> QuerySet[WebhookDelivery]:
    """Every organization's deliveries (the operator's view), optionally of one organization or status."""
    qs = WebhookDelivery.objects.select_related("endpoint")
    if organization_id is not None:
        qs = qs.filter(endpoint__organization_id=organization_id)
    if status:
        qs = qs.filter(status=status)
    return qs
