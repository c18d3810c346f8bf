"""Publishing Celery messages from inside the application, by task name.

Modules below the task modules never import a task: they publish by its registered name (the names are
stable across code moves, so queued messages and beat keep working). A publish never blocks its caller
on a broker outage: it does not retry, and after a failure this process stops trying for
BROKER_BACKOFF_SECONDS, leaving the work to the sweepers that re-read the durable rows (the settlement
outbox, pending webhook deliveries). One back-off for every publisher: it is one broker.
"""
from __future__ import annotations

import logging
import time

from celery import current_app

log = logging.getLogger(__name__)
BROKER_BACKOFF_SECONDS = 5.0
_broker = {"down_until": 0.0}


def publish(task_name: str, args: tuple, *, queue: str, countdown: float | None = None) -> bool:
    """Send one message; False (logged, not raised) when the broker is unreachable or backing off."""
    if time.monotonic() < _broker["down_until"]:
        return False
    try:
        current_app.send_task(task_name, args=args, queue=queue, countdown=countdown, retry=False)
        return True
    except Exception as exc:  # noqa: BLE001 - broker down: a sweeper sends it later
        _broker["down_until"] = time.monotonic() + BROKER_BACKOFF_SECONDS
        log.warning("could not publish %s%r (%s); a sweeper will send it, and nothing is published from this "
                    "process for %ss", task_name, args, exc, BROKER_BACKOFF_SECONDS)
        return False


def broker_backoff_reset() -> None:
    _broker["down_until"] = 0.0
