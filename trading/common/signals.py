"""Signals trading sends to the layers above it, which it may not import (oversight).

`listing_checking(seller, asset, kind, price)` is sent inside `listing_create`, before anything is written;
a receiver refuses the listing by raising a `DomainError` (the reserve's guided-price floor: a reserve body
may not sell below it by listing directly instead of through a release). Not robust on purpose.

`trades_pending_approval(trade_ids=[...])` is sent after the commit of every transaction that put trades
in PENDING_APPROVAL (at match, at a listing's purchase, accept or award, at the settlement re-check).
Oversight connects a receiver that opens their approval requests at once; its beat task
(`approvals_tick` → `approvals_sync`) remains the backstop for a receiver that failed or a process that
died between the commit and the signal.
"""
from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

from trading.models import TradeStatus

trades_pending_approval = Signal()
listing_checking = Signal()


def announce_pending_approval(trades: list) -> None:
    """Called inside the transaction that made `trades` PENDING_APPROVAL (others are ignored): after its
    commit, send `trades_pending_approval`. Robust: a receiver's error is logged, never raised into the
    caller whose work is already committed."""
    ids = [t.id for t in trades if t.status == TradeStatus.PENDING_APPROVAL]
    if ids:
        transaction.on_commit(lambda: trades_pending_approval.send(sender="trading", trade_ids=ids), robust=True)
