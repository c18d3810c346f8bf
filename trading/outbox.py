"""The settlement outbox: a trade's `SettlementOutbox` row is written with the trade; the Celery
message is sent only after commit and is just a nudge. If it is lost (Redis down, worker killed) the
sweeper (`trading.tasks.settlement_sweep`) sends it again; settling is idempotent, so a duplicate is
harmless."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from marketplace.models import Market

from .models import OutboxStatus, SettlementOutbox, Trade
from .routing import settlement_queue

log = logging.getLogger(__name__)


def next_eod_cutoff(market: Market, now: datetime) -> datetime | None:
    if market.settlement_mode != "eod" or market.eod_cutoff is None:
        return None
    local = timezone.localtime(now)
    cutoff = local.replace(hour=market.eod_cutoff.hour, minute=market.eod_cutoff.minute, second=0, microsecond=0)
    return cutoff if cutoff > local else cutoff + timedelta(days=1)


def outbox_row_for(trade: Trade, market: Market | None, *, not_before: datetime | None = None) -> SettlementOutbox:
    if not_before is None and market is not None:
        not_before = next_eod_cutoff(market, timezone.now())
    # Counted as sent now: the message goes out right after commit; if it is lost, the sweeper resends
    # once the row has been pending for longer than its threshold.
    return SettlementOutbox(trade=trade, queue=settlement_queue(trade.market_id, trade.listing_id),
                            not_before=not_before, status=OutboxStatus.PENDING,
                            last_enqueued_at=None if not_before else timezone.now())


def send_settlement(trade_id: int, queue: str) -> bool:
    from .tasks import settle_trade  # tasks import services; import here to keep the module graph acyclic

    try:
        settle_trade.apply_async((trade_id,), queue=queue, retry=False)
        return True
    except Exception:  # noqa: BLE001 - broker down: the sweeper will send it later
        log.warning("could not enqueue settlement of trade %s; the sweeper will retry", trade_id, exc_info=True)
        return False


def enqueue_after_commit(trades: list[Trade]) -> None:
    """After the placing transaction commits, nudge settlement of every trade that is due now."""
    due = [(t.id, settlement_queue(t.market_id, t.listing_id)) for t in trades
           if t.market is None or t.market.settlement_mode != "eod"]
    if due:
        def _send():
            for trade_id, queue in due:
                send_settlement(trade_id, queue)

        transaction.on_commit(_send)
