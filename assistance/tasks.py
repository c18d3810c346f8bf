"""Celery entry points of paired assistance: the year-end shortfall check (beat, daily; it does
something only for a year that has ended and is not yet closed)."""
from __future__ import annotations

from celery import shared_task
from celery.schedules import crontab

from .yearend import year_end

BEAT_SCHEDULE = {
    # 00:20 every day (Asia/Shanghai, the project's time zone): on 1 January it closes the year before
    "assistance-year-end": {"task": "assistance.tasks.year_end", "schedule": crontab(minute=20, hour=0)},
}


@shared_task(name="assistance.tasks.year_end", ignore_result=True)
def year_end_task() -> dict:
    return {str(k): v for k, v in year_end().items()}
