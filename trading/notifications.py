"""Trade notifications to participants. Each party lists its trade events through the API
(`TradeEvent`); webhooks (HMAC-signed, retried) are sent by `trading.tasks.deliver_webhook` when an
organization has registered an endpoint."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def notify_trade_event(*, trade_id: int, status: str) -> None:
    """Hook run after commit; webhook delivery is enqueued here when configured."""
    try:
        from .webhooks import enqueue_webhooks
    except ImportError:
        return
    try:
        enqueue_webhooks(trade_id=trade_id, status=status)
    except Exception:  # noqa: BLE001 - a notification must never break settlement
        log.warning("webhook enqueue failed for trade %s", trade_id, exc_info=True)
