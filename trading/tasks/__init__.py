"""Celery entry points of trading, on top of every room: tasks import services; nothing below imports a
task (rooms publish by task name through `core.broker.publish`).

Task names are stable, whatever module holds them (`trading.tasks.settle_trade`,
`trading.tasks.settlement_sweep`, `trading.tasks.deliver_webhook`, `trading.tasks.webhook_sweep`,
`trading.tasks.roll_sessions`, `trading.listing_tasks.close_due_listings`): queued messages and beat
entries name tasks, not modules. `BEAT_SCHEDULE` is the rooms' schedules together (read by `config.celery`).
"""
from trading.tasks import listings, notifications, orderbook, settlement
from trading.tasks.listings import close_due_listings
from trading.tasks.notifications import deliver_webhook, webhook_sweep
from trading.tasks.orderbook import roll_sessions
from trading.tasks.settlement import settle_trade, settlement_sweep

BEAT_SCHEDULE = {**settlement.BEAT_SCHEDULE, **notifications.BEAT_SCHEDULE, **orderbook.BEAT_SCHEDULE,
                 **listings.BEAT_SCHEDULE}

__all__ = ["BEAT_SCHEDULE", "close_due_listings", "deliver_webhook", "roll_sessions", "settle_trade",
           "settlement_sweep", "webhook_sweep"]
