"""Celery tasks of settlement: settling a trade (routed per market) and the outbox sweeper.

Settlement messages are nudges; the outbox row is the truth. `settle_trade` is idempotent, runs with
`acks_late` (a killed worker's message is delivered again) and never lets one trade block its queue:
  * an exception → the attempt is counted on the outbox row and the task is retried after an
    exponential backoff (1, 2, 4 … 60 s, jittered); the row's `last_enqueued_at` is moved to the retry
    time so the sweeper does not undercut the backoff;
  * a message redelivered after its worker died (`delivery_info.redelivered`) counts as an attempt too
    (before trying again), so a trade that kills its worker every time cannot loop forever;
  * after SETTLEMENT_MAX_ATTEMPTS attempts the trade is FAILED with an `alert.settlement_failed`, its
    escrow released; should even that fail, the row is parked (outbox done, `last_error` "dead letter")
    with an `alert.settlement_stuck` audit event for an operator, the trade and its escrow untouched.
"""
from __future__ import annotations

import logging
import random
from datetime import timedelta

from celery import shared_task
from django.db import connection
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from core import conf
from trading.models import OutboxStatus, SettlementOutbox
from trading.settlement.outbox import send_settlement
from trading.settlement.services import trade_fail, trade_settle
from trading.settlement.sql import OUTBOX_COUNT_ATTEMPT, OUTBOX_DUE

log = logging.getLogger(__name__)
RETRY_CAP_SECONDS = 60.0  # below the broker's visibility timeout, so a delayed retry is not redelivered early
SWEEP_MAX_INTERVAL = 300.0  # the longest gap between two resends of one pending settlement
SWEEP_LOCK = 0x5E77_1E  # advisory lock key of the settlement sweeper

BEAT_SCHEDULE = {
    "settlement-sweep": {"task": "trading.tasks.settlement_sweep", "schedule": 5.0},
}


def sweep_after() -> timedelta:
    return timedelta(seconds=conf.get("SETTLEMENT_SWEEP_AFTER_SECONDS"))


def max_attempts() -> int:
    return conf.get("SETTLEMENT_MAX_ATTEMPTS")


def retry_delay(attempts: int) -> float:
    return min(RETRY_CAP_SECONDS, 2.0 ** max(attempts - 1, 0)) * random.uniform(0.8, 1.2)


def _fresh_connection() -> None:
    """After an error, drop a connection the error left unusable (never inside a transaction)."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


def _count_attempt(trade_id: int, error: str, delay: float) -> int | None:
    """Count one failed (or lost) attempt on the pending outbox row, in its own committed statement;
    the row's next nudge time moves to after the backoff. None when nothing is pending."""
    _fresh_connection()
    with connection.cursor() as cur:
        OUTBOX_COUNT_ATTEMPT.run(cur, {"error": error[:300], "delay": delay, "trade": trade_id})
        row = cur.fetchone()
    return row[0] if row else None


def _give_up(trade_id: int, error: str) -> str:
    """Past the last attempt: fail the trade and release its escrow; if even that fails, park the row."""
    try:
        return trade_fail(trade_id=trade_id, reason="settlement_error:max_attempts", alert=True)
    except Exception as exc:  # noqa: BLE001
        log.exception("could not fail trade %s after its last settlement attempt", trade_id)
        _fresh_connection()
        SettlementOutbox.objects.filter(trade_id=trade_id, status=OutboxStatus.PENDING).update(
            status=OutboxStatus.DONE, done_at=timezone.now(), last_error=f"dead letter: {exc!r}"[:300])
        audit_record(actor=Actor.system(), action="alert.settlement_stuck", object_type="trade", object_id=trade_id,
                     after={"error": error[:300], "fail_error": repr(exc)[:300]})
        return "stuck"


@shared_task(name="trading.tasks.settle_trade", bind=True, acks_late=True, ignore_result=True, max_retries=None)
def settle_trade(self, trade_id: int) -> str | None:
    if (self.request.delivery_info or {}).get("redelivered"):
        # the previous delivery of this very message never finished (its worker died)
        delay = retry_delay(1)
        attempts = _count_attempt(trade_id, "redelivered: the previous attempt's worker was lost", delay)
        if attempts is not None and attempts >= max_attempts():
            return _give_up(trade_id, "redelivered too often")
    try:
        return trade_settle(trade_id=trade_id)
    except Exception as exc:  # noqa: BLE001 - count it; a poison trade must not block its queue
        log.warning("settlement of trade %s raised %r", trade_id, exc, exc_info=True)
        error = repr(exc)
        try:
            attempts = _count_attempt(trade_id, error, 0)
        except Exception:  # noqa: BLE001 - the database itself is away: retry without counting
            attempts = None
            log.warning("could not count the attempt of trade %s", trade_id, exc_info=True)
        if attempts is not None and attempts >= max_attempts():
            return _give_up(trade_id, error)
        delay = retry_delay(attempts or 1)
        if attempts is not None:
            SettlementOutbox.objects.filter(trade_id=trade_id, status=OutboxStatus.PENDING).update(
                last_enqueued_at=timezone.now() + timedelta(seconds=delay))
        raise self.retry(exc=exc, countdown=delay)


@shared_task(name="trading.tasks.settlement_sweep", ignore_result=True)
def settlement_sweep(limit: int = 500, max_rows: int = 20_000, after_seconds: float | None = None) -> int:
    """Send again every settlement that is due and whose last nudge is stale: lost messages, and
    end-of-day trades once their cut-off is past. Works in batches of `limit` until nothing is left (at
    most `max_rows`); stops early when the broker is unreachable.

    Stale means older than SETTLEMENT_SWEEP_AFTER_SECONDS at first, then the gap between resends
    doubles (up to SWEEP_MAX_INTERVAL): a row nudged at t0 is resent at t0+T, t0+2T, t0+4T … So a
    backlog that takes longer than T to drain (a burst, the end-of-day cut-off, a slow worker) is not
    flooded with duplicates every T seconds, while a message that really was lost is resent quickly."""
    after = after_seconds if after_seconds is not None else sweep_after().total_seconds()
    with connection.cursor() as cur:  # one sweeper at a time (two beats, or a slow sweep overlapping the next)
        cur.execute("SELECT pg_try_advisory_lock(%s)", [SWEEP_LOCK])
        if not cur.fetchone()[0]:
            return 0
    try:
        return _sweep(limit, max_rows, after)
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", [SWEEP_LOCK])


def _sweep(limit: int, max_rows: int, after: float) -> int:
    sent_total = 0
    while sent_total < max_rows:
        with connection.cursor() as cur:
            OUTBOX_DUE.run(cur, {"max_interval": SWEEP_MAX_INTERVAL, "after": after, "batch": limit})
            rows = cur.fetchall()
        if not rows:
            break
        sent = []
        for pk, trade_id, queue, _ in rows:
            if not send_settlement(trade_id, queue):
                break
            sent.append(pk)
        if sent:
            SettlementOutbox.objects.filter(pk__in=sent).update(last_enqueued_at=rows[0][3])
        sent_total += len(sent)
        if len(sent) < len(rows) or len(rows) < limit:
            break
    return sent_total
