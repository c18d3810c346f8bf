"""Celery tasks of oversight: the approval clock (open, escalate, expire, release after notice), the
flow-summary roll-up and surveillance. Idempotent; run by beat on the default queue."""
from __future__ import annotations

from celery import shared_task

from .approvals import approvals_tick as tick
from .reports import flow_rollup as rollup
from .surveillance import run_surveillance

BEAT_SCHEDULE = {
    "oversight-approvals-tick": {"task": "oversight.tasks.approvals_tick", "schedule": 30.0},
    "oversight-flow-rollup": {"task": "oversight.tasks.flow_rollup", "schedule": 60.0},
    "oversight-surveillance": {"task": "oversight.tasks.surveillance", "schedule": 300.0},
}


@shared_task(name="oversight.tasks.approvals_tick", ignore_result=True)
def approvals_tick() -> dict:
    return tick()


@shared_task(name="oversight.tasks.flow_rollup", ignore_result=True)
def flow_rollup() -> int:
    return rollup()


@shared_task(name="oversight.tasks.surveillance", ignore_result=True)
def surveillance() -> dict:
    return run_surveillance()
