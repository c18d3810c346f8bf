"""Celery queues of trading (every queue of the deployment, not only settlement's).

Settlement: `settle.<n>` with n = market id mod SETTLEMENT_QUEUES (a listing's trades, which have no
market, by listing id). The mapping is a pure function of the id and the setting, so every process of
the deployment (web, workers, beat) agrees on it as long as SETTLEMENT_QUEUES is the same everywhere.
One market always lands on one queue: consumed by one worker process with concurrency 1, its
settlements run in trade order while other queues run in parallel on other workers and machines.
Order is a nicety, not a correctness condition: every trade's escrow is already held, so trades settle
independently, and duplicates are harmless (trade row lock + ledger idempotency key).

`webhooks`: outgoing HTTP to participants, kept off the settlement queues so that a slow endpoint can
never delay a settlement. `beat`: the periodic jobs beat sends (sweepers, sealing, session roll-over,
surveillance), so a long one never takes a settlement worker's turn. `default`: anything else.
"""
from __future__ import annotations

from django.conf import settings

from trading.common.queues import BEAT_QUEUE, DEFAULT_QUEUE, WEBHOOK_QUEUE


def settlement_shard(market_id: int | None, listing_id: int | None = None) -> int:
    key = market_id if market_id is not None else (listing_id or 0)
    return key % settings.SETTLEMENT_QUEUES


def settlement_queue(market_id: int | None, listing_id: int | None = None) -> str:
    return f"settle.{settlement_shard(market_id, listing_id)}"


def settlement_queues() -> list[str]:
    return [f"settle.{n}" for n in range(settings.SETTLEMENT_QUEUES)]


def all_queues() -> list[str]:
    """Every queue of the deployment: what a single all-in-one worker consumes (`make run`, tests)."""
    return [DEFAULT_QUEUE, BEAT_QUEUE, WEBHOOK_QUEUE] + settlement_queues()


def queues_for_worker(index: int, count: int, *, service_queues: bool | None = None) -> list[str]:
    """The queues worker `index` of `count` consumes when settlement is spread over `count` workers:
    every count-th settlement queue, plus `default`, `beat` and `webhooks` on worker 0 (or wherever
    `service_queues` says). `python -c 'from trading.settlement.routing import queues_for_worker as q;
    print(",".join(q(0, 3)))'` prints the -Q argument."""
    if not 0 <= index < count:
        raise ValueError("need 0 <= index < count")
    mine = [q for n, q in enumerate(settlement_queues()) if n % count == index]
    if service_queues if service_queues is not None else index == 0:
        mine = [DEFAULT_QUEUE, BEAT_QUEUE, WEBHOOK_QUEUE] + mine
    return mine
