"""Trade notifications to participants, and the use cases of their webhook endpoints.

Two channels, both fed by the transaction that makes a trade transition:
  * `TradeEvent` rows, which each party lists through the API (`GET /api/v1/trades/events`);
  * webhooks: a `WebhookDelivery` row per (registered endpoint of a party × event), written in the same
    transaction (so a crash cannot lose a notification of a committed transition) and POSTed by the
    `deliver_webhook` task on the `webhooks` queue after commit — see `trading.notifications.delivery`.
A notification must never break or slow settlement: recording is one indexed SELECT when no endpoint
is registered, and any error while recording is logged and swallowed (inside a savepoint).

An organization's admins register, rotate and delete its endpoints (`webhook_register`,
`webhook_rotate_secret`, `webhook_delete`): each one transaction with its audit event.
"""
from __future__ import annotations

import logging

from django.db import transaction

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import Organization
from core.errors import DomainError
from trading.models import WebhookEndpoint
from trading.notifications.delivery import UrlRefused, check_url, new_secret, record_trade_events

log = logging.getLogger(__name__)
MAX_ENDPOINTS = 10  # per organization


def notify_trade_event(*, trade, status: str, asset=None, endpoints=None) -> None:
    """Record the webhook deliveries of one trade transition (inside the transition's transaction).
    `endpoints`: the parties' active endpoints as (id, organization id, events), when already read."""
    notify_trade_events([trade], status, asset=asset, endpoints=endpoints)


def notify_trade_events(trades: list, status: str, *, asset=None, endpoints=None) -> None:
    try:
        record_trade_events(trades, status, asset=asset, endpoints=endpoints)
    except Exception:  # noqa: BLE001 - a notification must never break settlement
        if transaction.get_connection().needs_rollback:
            raise  # the transaction itself is broken: nothing to save here
        log.warning("webhook recording failed for trades %s", [t.id for t in trades], exc_info=True)


def webhook_register(*, actor: Actor, organization: Organization, url: str, events: list[str]) -> WebhookEndpoint:
    """Register an endpoint of `organization` (at most MAX_ENDPOINTS); its secret is new."""
    try:
        check_url(url)
    except UrlRefused as exc:
        raise DomainError("validation_error", fields={"url": [{"code": "invalid", "message": str(exc)}]})
    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=organization.pk).first()  # serialize the count check
        if WebhookEndpoint.objects.filter(organization=organization).count() >= MAX_ENDPOINTS:
            raise DomainError("conflict")
        endpoint = WebhookEndpoint.objects.create(organization=organization, url=url, secret=new_secret(),
                                                  events=sorted(set(events)))
        audit_record(actor=actor, action="webhook.register", object_type="webhook_endpoint",
                     object_id=endpoint.id, after={"url": url, "events": endpoint.events},
                     region_codes=[organization.region_id])
    return endpoint


def webhook_rotate_secret(*, actor: Actor, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Give `endpoint` a new secret (the caller shows it once)."""
    endpoint.secret = new_secret()
    with transaction.atomic():
        endpoint.save(update_fields=["secret"])
        audit_record(actor=actor, action="webhook.rotate_secret", object_type="webhook_endpoint",
                     object_id=endpoint.id, region_codes=[endpoint.organization.region_id])
    return endpoint


def webhook_delete(*, actor: Actor, endpoint: WebhookEndpoint) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action="webhook.delete", object_type="webhook_endpoint", object_id=endpoint.id,
                     before={"url": endpoint.url}, region_codes=[endpoint.organization.region_id])
        endpoint.delete()
