"""Celery tasks of outgoing notifications: delivering one webhook (on the `webhooks` queue) and the
sweeper that sends every pending delivery whose (re)try time has come."""
from __future__ import annotations

from celery import shared_task

from trading.notifications.delivery import deliver, due_deliveries, send_delivery
from trading.tasks.settlement import RETRY_CAP_SECONDS

BEAT_SCHEDULE = {
    "webhook-sweep": {"task": "trading.tasks.webhook_sweep", "schedule": 5.0},
}


@shared_task(name="trading.tasks.deliver_webhook", ignore_result=True, acks_late=True)
def deliver_webhook(delivery_id: int) -> str:
    outcome, delay = deliver(delivery_id)
    if outcome == "retry" and delay is not None and delay <= RETRY_CAP_SECONDS:
        send_delivery(delivery_id, countdown=delay)  # later ones: the sweeper
    return outcome


@shared_task(name="trading.tasks.webhook_sweep", ignore_result=True)
def webhook_sweep(limit: int = 500) -> int:
    """Send every pending webhook delivery whose (re)try time has come."""
    n = 0
    for delivery_id in due_deliveries(limit=limit):
        if not send_delivery(delivery_id):
            break
        n += 1
    return n
