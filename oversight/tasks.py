"""Celery tasks of oversight: the approval clock (open, escalate, expire, release after notice), the
flow-summary roll-up and surveillance. Idempotent; run by beat on the default queue."""
from __future__ import annotations

from celery import shared_task

BEAT_SCHEDULE = {
    "oversight-approvals-tick": {"task": "oversight.tasks.approvals_tick", "schedule": 30.0},
    "oversight-flow-rollup": {"task": "oversight.tasks.flow_rollup", "schedule": 60.0},
    "oversight-surveillance": {"task": "oversight.tasks.surveillance", "schedule": 300.0},
}


@shared_task(name="oversight.tasks.approvals_tick", ignore_result=True)
def approvals_tick() -> dict:
    from .approvals import approvals_tick as tick

    return tick()


@shared_task(name="oversight.tasks.flow_rollup", ignore_result=True)
def flow_rollup() -> int:
    from .reports import flow_rollup as rollup

    return rollup()


@shared_task(name="oversight.tasks.surveillance", ignore_result=True)
def surveillance() -> dict:
    from .surveillance import run_surveillance

    return run_surveillance()
