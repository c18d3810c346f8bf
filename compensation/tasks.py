"""Celery entry points of compensation: the period clock (fund → assess → settle), run by beat. The task
calls the service, which is idempotent (ledger keys per period and assessment, one live assessment per
period), so a retry or two beats at once do no harm."""
from __future__ import annotations

from celery import shared_task

from .services import compensation_tick as tick

BEAT_SCHEDULE = {
    "compensation-tick": {"task": "compensation.tasks.compensation_tick", "schedule": 60.0},
}


@shared_task(name="compensation.tasks.compensation_tick", ignore_result=True)
def compensation_tick() -> dict:
    return tick()
