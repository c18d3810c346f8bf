"""Trade notifications to participants.

Two channels, both fed by the transaction that makes a trade transition:
  * `TradeEvent` rows, which each party lists through the API (`GET /api/v1/trades/events`);
  * webhooks: a `WebhookDelivery` row per (registered endpoint of a party × event), written in the same
    transaction (so a crash cannot lose a notification of a committed transition) and POSTed by the
    `trading.tasks.deliver_webhook` task on the `webhooks` queue after commit — see `trading.webhooks`.
A notification must never break or slow settlement: recording is one indexed SELECT when no endpoint
is registered, and any error while recording is logged and swallowed (inside a savepoint).
"""
from __future__ import annotations

import logging

from django.db import transaction

log = logging.getLogger(__name__)


def notify_trade_event(*, trade, status: str, asset=None, endpoints=None) -> None:
    """Record the webhook deliveries of one trade transition (inside the transition's transaction).
    `endpoints`: the parties' active endpoints as (id, organization id, events), when already read."""
    notify_trade_events([trade], status, asset=asset, endpoints=endpoints)


def notify_trade_events(trades: list, status: str, *, asset=None, endpoints=None) -> None:
    from .webhooks import record_trade_events

    try:
        record_trade_events(trades, status, asset=asset, endpoints=endpoints)
    except Exception:  # noqa: BLE001 - a notification must never break settlement
        if transaction.get_connection().needs_rollback:
            raise  # the transaction itself is broken: nothing to save here
        log.warning("webhook recording failed for trades %s", [t.id for t in trades], exc_info=True)
