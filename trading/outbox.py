"""The settlement outbox: a trade's `SettlementOutbox` row is written with the trade; the Celery
message is sent only after commit and is just a nudge. If it is lost (Redis down, worker killed) the
sweeper (`trading.tasks.settlement_sweep`) sends it again; settling is idempotent, so a duplicate is
harmless.

Row life: `pending` (with `not_before` = the end-of-day cut-off for an end-of-day market, else null;
`last_enqueued_at` = when a nudge was last sent, null = never) → `done` when the trade reaches a
final state. `attempts` counts settlement attempts that raised or whose worker died; past
SETTLEMENT_MAX_ATTEMPTS the trade is failed and its escrow released (a poison trade cannot block its
queue). A trade waiting for a regulator's approval keeps its row pending; `trade_approve` makes it due.

Publishing never blocks the caller on a broker outage: `send_settlement` does not retry, and after a
failure it stops trying for BROKER_BACKOFF_SECONDS (per process), leaving the rows to the sweeper.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from marketplace.models import Market

from .models import OutboxStatus, SettlementOutbox, Trade
from .routing import settlement_queue

log = logging.getLogger(__name__)
BROKER_BACKOFF_SECONDS = 5.0
_broker = {"down_until": 0.0}


def next_eod_cutoff(market: Market, now: datetime) -> datetime | None:
    """The first end-of-day cut-off strictly after `now` (local time), None for a real-time market."""
    if market.settlement_mode != "eod" or market.eod_cutoff is None:
        return None
    local = timezone.localtime(now)
    cutoff = local.replace(hour=market.eod_cutoff.hour, minute=market.eod_cutoff.minute,
                           second=market.eod_cutoff.second, microsecond=0)
    return cutoff if cutoff > local else cutoff + timedelta(days=1)


def is_deferred(market: Market | None) -> bool:
    return market is not None and market.settlement_mode == "eod" and market.eod_cutoff is not None


def outbox_row_for(trade: Trade, market: Market | None, *, not_before: datetime | None = None) -> SettlementOutbox:
    """The unsaved outbox row of a newly matched trade (callers bulk-create them with the trades)."""
    if not_before is None and market is not None:
        not_before = next_eod_cutoff(market, timezone.now())
    # Counted as sent now: the message goes out right after commit; if it is lost, the sweeper resends
    # once the row has been pending for longer than its threshold. A deferred row is never sent before
    # its cut-off: the sweeper sends it then.
    return SettlementOutbox(trade=trade, queue=settlement_queue(trade.market_id, trade.listing_id),
                            not_before=not_before, status=OutboxStatus.PENDING,
                            last_enqueued_at=None if not_before else timezone.now())


def send_settlement(trade_id: int, queue: str) -> bool:
    """Publish one settlement nudge; False (logged, not raised) when the broker is unreachable."""
    from .tasks import settle_trade  # tasks import services; import here to keep the module graph acyclic

    if time.monotonic() < _broker["down_until"]:
        return False
    try:
        settle_trade.apply_async((trade_id,), queue=queue, retry=False)
        return True
    except Exception as exc:  # noqa: BLE001 - broker down: the sweeper will send it later
        _broker["down_until"] = time.monotonic() + BROKER_BACKOFF_SECONDS
        log.warning("could not enqueue settlement of trade %s (%s); the sweeper will send it, and nothing is sent "
                    "from this process for %ss", trade_id, exc, BROKER_BACKOFF_SECONDS)
        return False


def broker_backoff_reset() -> None:
    _broker["down_until"] = 0.0


def enqueue_after_commit(trades: list[Trade]) -> None:
    """Called inside the transaction that matched `trades`: records their `matched` webhook deliveries
    (durably, with the trades) and, after commit, nudges settlement of every trade that is due now
    (an end-of-day market's trades wait for the sweeper at the cut-off)."""
    if not trades:
        return
    from .notifications import notify_trade_events

    notify_trade_events(trades, "matched")
    due = [(t.id, settlement_queue(t.market_id, t.listing_id)) for t in trades if not is_deferred(t.market)]
    if due:
        def _send():
            for trade_id, queue in due:
                send_settlement(trade_id, queue)

        transaction.on_commit(_send)


def outbox_make_due(trade: Trade, *, now: datetime | None = None) -> SettlementOutbox:
    """Make a trade's outbox row pending and due (approval of a trade that waited for a regulator),
    creating it when the trade never had one; the caller sends the nudge after commit."""
    now = now or timezone.now()
    row = SettlementOutbox.objects.select_for_update().filter(trade=trade).first()
    deferred_until = next_eod_cutoff(trade.market, now) if is_deferred(trade.market) else None
    if row is None:
        row = SettlementOutbox(trade=trade, queue=settlement_queue(trade.market_id, trade.listing_id))
    row.status = OutboxStatus.PENDING
    row.not_before = deferred_until or now  # due from now on (the sweeper's resend gaps count from here)
    row.attempts = 0
    row.last_error = ""
    row.done_at = None
    row.last_enqueued_at = None if deferred_until else now
    row.save()
    return row
