"""Ledger background work: periodic sealing (checkpoints)."""
from celery import shared_task
from django.conf import settings

from .sealing import seal
from .verification import verification_run

BEAT_SCHEDULE = {
    "ledger-seal": {"task": "ledger.tasks.ledger_seal", "schedule": settings.LEDGER_SEAL_INTERVAL_SECONDS},
}


@shared_task(name="ledger.tasks.ledger_seal", ignore_result=True)
def ledger_seal() -> int:
    return seal().sealed


@shared_task(name="ledger.tasks.ledger_verify", ignore_result=True, acks_late=True)
def ledger_verify(run_id: int) -> str | None:
    run = verification_run(run_id=run_id)
    return run.status if run is not None else None
