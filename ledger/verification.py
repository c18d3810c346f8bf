"""Full ledger verification as an asynchronous job: `verification_start` records a `VerificationRun` and
sends `ledger.tasks.ledger_verify` after commit; the task runs `verify_ledger` in a worker and stores the
report; the API polls the run. A web worker never recomputes the ledger.

One at a time: while a run is queued or running, starting another returns that one (the `active` column
is unique, so two concurrent starts cannot both create one). A run still unfinished after
`LEDGER_VERIFY_STALE_SECONDS` (a lost message, a killed worker) is closed as `error: stale` by the next
start. Who may start and read: admins of a regulator or of the exchange operator (the view's permission).
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from core.broker import publish

from .models import VerificationRun, VerificationStatus
from .verify import verify_ledger

log = logging.getLogger(__name__)
VERIFY_TASK = "ledger.tasks.ledger_verify"


def _send(run_id: int) -> None:
    # by task name (core.broker): a broker outage leaves the run queued until it is stale, then restartable
    publish(VERIFY_TASK, (run_id,), queue=getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "default"))


@transaction.atomic
def verification_start(*, actor: Actor) -> tuple[VerificationRun, bool]:
    """(the run, whether it was created now). A running or queued run is returned instead of a new one."""
    stale_before = timezone.now() - timedelta(seconds=getattr(settings, "LEDGER_VERIFY_STALE_SECONDS", 3600))
    VerificationRun.objects.filter(active=True, created_at__lt=stale_before).update(
        active=None, status=VerificationStatus.ERROR, error="stale", finished_at=timezone.now())
    running = VerificationRun.objects.filter(active=True).first()
    if running is not None:
        return running, False
    try:
        with transaction.atomic():
            run = VerificationRun.objects.create(requested_by_id=actor.user_id,
                                                 requester_organization_id=actor.organization_id)
    except IntegrityError:  # a concurrent start won
        return VerificationRun.objects.get(active=True), False
    audit_record(actor=actor, action="ledger.verify_start", object_type="verification", object_id=run.pk)
    run_id = run.pk
    transaction.on_commit(lambda: _send(run_id))
    return run, True


def verification_run(*, run_id: int) -> VerificationRun | None:
    """The task body: run the verification once (a redelivered message for a finished run does nothing)."""
    with transaction.atomic():
        run = VerificationRun.objects.select_for_update().filter(pk=run_id, active=True).first()
        if run is None:
            return None
        run.status, run.started_at = VerificationStatus.RUNNING, timezone.now()
        run.save(update_fields=["status", "started_at"])
    try:
        report = verify_ledger().as_dict()
        status, error = (VerificationStatus.OK if report.get("ok") else VerificationStatus.FAILED), ""
    except Exception as exc:  # noqa: BLE001  (recorded on the run; the worker logs it)
        log.exception("ledger verification %s did not complete", run_id)
        report, status, error = None, VerificationStatus.ERROR, repr(exc)[:200]
    with transaction.atomic():
        VerificationRun.objects.filter(pk=run_id).update(status=status, active=None, report=report, error=error,
                                                         finished_at=timezone.now())
        audit_record(actor=Actor.system(), action="ledger.verify_done", object_type="verification",
                     object_id=run_id, after={"status": status, "fault": (report or {}).get("fault")})
    return VerificationRun.objects.get(pk=run_id)
