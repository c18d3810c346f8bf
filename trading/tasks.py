"""Celery tasks of trading: settlement (routed per market), the outbox sweeper, session roll-over and
day-order expiry. Tasks are idempotent; `acks_late` so a killed worker's message is delivered again."""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, connection
from django.db.models import F, Q
from django.utils import timezone

from marketplace.models import Market

from .models import OutboxStatus, SettlementOutbox, TradeStatus
from .outbox import send_settlement
from .settlement import trade_fail, trade_settle
from .services import market_roll_session

log = logging.getLogger(__name__)
SWEEP_AFTER = timedelta(seconds=float(getattr(settings, "SETTLEMENT_SWEEP_AFTER_SECONDS", 10)))
MAX_ATTEMPTS = int(getattr(settings, "SETTLEMENT_MAX_ATTEMPTS", 8))

BEAT_SCHEDULE = {
    "settlement-sweep": {"task": "trading.tasks.settlement_sweep", "schedule": 5.0},
    "roll-sessions": {"task": "trading.tasks.roll_sessions", "schedule": 30.0},
}


@shared_task(name="trading.tasks.settle_trade", bind=True, acks_late=True, max_retries=MAX_ATTEMPTS,
             ignore_result=True)
def settle_trade(self, trade_id: int) -> str | None:
    try:
        return trade_settle(trade_id=trade_id)
    except OperationalError as exc:  # database blip: retry with backoff
        raise self.retry(exc=exc, countdown=min(2 ** self.request.retries, 60))
    except Exception as exc:  # noqa: BLE001 - record it; a poison trade must not block its queue
        log.exception("settlement of trade %s raised", trade_id)
        connection.close_if_unusable_or_obsolete()
        row = SettlementOutbox.objects.filter(trade_id=trade_id).first()
        if row is not None:
            SettlementOutbox.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1,
                                                              last_error=repr(exc)[:300])
            if row.attempts + 1 >= MAX_ATTEMPTS:
                trade_fail(trade_id=trade_id, reason="settlement_error:poison")
                return "failed"
        raise self.retry(exc=exc, countdown=min(2 ** self.request.retries, 60))


@shared_task(name="trading.tasks.settlement_sweep", ignore_result=True)
def settlement_sweep(limit: int = 500) -> int:
    """Send again every settlement that is due and has waited longer than the threshold."""
    now = timezone.now()
    stale = now - SWEEP_AFTER
    rows = list(
        SettlementOutbox.objects.filter(status=OutboxStatus.PENDING)
        .filter(Q(last_enqueued_at__isnull=True) | Q(last_enqueued_at__lt=stale))
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .filter(trade__status__in=[TradeStatus.MATCHED, TradeStatus.APPROVED, TradeStatus.SETTLING])
        .order_by("id").values_list("id", "trade_id", "queue")[:limit]
    )
    sent = [pk for pk, trade_id, queue in rows if send_settlement(trade_id, queue)]
    if sent:
        SettlementOutbox.objects.filter(pk__in=sent).update(last_enqueued_at=now)
    return len(sent)


@shared_task(name="trading.tasks.roll_sessions", ignore_result=True)
def roll_sessions() -> int:
    """Close finished sessions (VWAP close, day-order expiry) even on markets nobody is trading."""
    n = 0
    for market_id in Market.objects.values_list("id", flat=True):
        market_roll_session(market_id=market_id)
        n += 1
    return n


from .listing_tasks import *  # noqa: E402,F401,F403
from .listing_tasks import LISTING_BEAT_SCHEDULE  # noqa: E402

BEAT_SCHEDULE.update(LISTING_BEAT_SCHEDULE)
