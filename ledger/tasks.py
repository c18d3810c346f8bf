"""Ledger background work: periodic sealing (checkpoints)."""
from celery import shared_task
from django.conf import settings

from .sealing import seal

BEAT_SCHEDULE = {
    "ledger-seal": {"task": "ledger.tasks.ledger_seal", "schedule": settings.LEDGER_SEAL_INTERVAL_SECONDS},
}


@shared_task(name="ledger.tasks.ledger_seal", ignore_result=True)
def ledger_seal() -> int:
    return seal().sealed
