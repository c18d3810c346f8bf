"""Celery tasks of the order book: session roll-over on every market, from beat."""
from __future__ import annotations

from celery import shared_task

from marketplace.models import Market
from trading.orderbook.services import market_roll_session

BEAT_SCHEDULE = {
    "roll-sessions": {"task": "trading.tasks.roll_sessions", "schedule": 30.0},
}


@shared_task(name="trading.tasks.roll_sessions", ignore_result=True)
def roll_sessions() -> int:
    """Close finished sessions (VWAP close, day-order expiry) even on markets nobody is trading."""
    n = 0
    for market_id in Market.objects.values_list("id", flat=True):
        market_roll_session(market_id=market_id)
        n += 1
    return n
