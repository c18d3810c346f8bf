"""The settlement outbox: a trade's `SettlementOutbox` row is written with the trade; the Celery
message is sent only after commit and is just a nudge. If it is lost (Redis down, worker killed) the
sweeper (`trading.tasks.settlement.settlement_sweep`) sends it again; settling is idempotent, so a duplicate is
harmless.

Row life: `pending` (with `not_before` = the end-of-day cut-off for an end-of-day market, else null;
`last_enqueued_at` = when a nudge was last sent, null = never) → `done` when the trade reaches a
final state. `attempts` counts settlement attempts that raised or whose worker died; past
SETTLEMENT_MAX_ATTEMPTS the trade is failed and its escrow released (a poison trade cannot block its
queue). A trade waiting for a regulator's approval keeps its row pending; `trade_approve` makes it due.

Publishing never blocks the caller on a broker outage (`core.broker.publish`: no retry, then a back-off),
leaving the rows to the sweeper. The message is published by the task's registered name: this module is
below the task modules and never imports them.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from core.broker import publish
from marketplace.models import Market, SettlementMode
from trading.models import OutboxStatus, SettlementOutbox, Trade
from trading.notifications.services import notify_trade_events
from trading.settlement.routing import settlement_queue

SETTLE_TASK = "trading.tasks.settle_trade"  # the registered name of trading.tasks.settlement.settle_trade


def next_eod_cutoff(market: Market, now: datetime) -> datetime | None:
    """The first end-of-day cut-off strictly after `now` (local time), None for a real-time market."""
    if market.settlement_mode != SettlementMode.END_OF_DAY or market.eod_cutoff is None:
        return None
    local = timezone.localtime(now)
    cutoff = local.replace(hour=market.eod_cutoff.hour, minute=market.eod_cutoff.minute,
                           second=market.eod_cutoff.second, microsecond=0)
    return cutoff if cutoff > local else cutoff + timedelta(days=1)


def is_deferred(market: Market | None) -> bool:
    return market is not None and market.settlement_mode == SettlementMode.END_OF_DAY and market.eod_cutoff is not None


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
    return publish(SETTLE_TASK, (trade_id,), queue=queue)


def enqueue_after_commit(trades: list[Trade]) -> None:
    """Called inside the transaction that matched `trades`: records their `matched` webhook deliveries
    (durably, with the trades) and, after commit, nudges settlement of every trade that is due now
    (an end-of-day market's trades wait for the sweeper at the cut-off)."""
    if not trades:
        return
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
