"""Celery tasks of the compliance cycle: the shortfall scan after each deadline (idempotent; beat)."""
from __future__ import annotations

from celery import shared_task

from .services import shortfall_scan

BEAT_SCHEDULE = {
    "compliance-shortfall-scan": {"task": "compliance.tasks.shortfall_scan", "schedule": 3600.0},
}


@shared_task(name="compliance.tasks.shortfall_scan", ignore_result=True)
def shortfall_scan_task() -> int:
    return shortfall_scan()
