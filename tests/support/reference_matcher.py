"""A deliberately naive price-time matcher: the reference the order book (`tests/orderbook/
test_reference_model.py`) and the matching engine (`tests/engine/test_engine_model.py`) are compared with.

Lists, sorting on every call: price-time priority, trades at the resting order's price, partial fills,
self-trade prevention cancelling the incoming remainder, IOC cancelling what does not trade at once, FOK
trading all or nothing, cancel and reduce (keeping time priority). Organizations are small integers;
trades are (buyer, seller, price, quantity) tuples, in the order they print.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class MOrder:
    seq: int
    org: int
    side: str
    price: int
    remaining: int
    status: str = "open"


class ReferenceMatcher:
    def __init__(self, lot: int = 1):
        self.lot = lot
        self.orders: list[MOrder] = []
        self.trades: list[tuple] = []  # every trade printed so far

    def open(self) -> list[MOrder]:
        return [o for o in self.orders if o.status == "open"]

    def place(self, org, side, price, quantity, tif) -> tuple[MOrder, list[tuple]]:
        """Place an order; returns it and the trades it printed."""
        order = MOrder(len(self.orders), org, side, price, quantity)
        self.orders.append(order)
        if side == "buy":
            book = sorted((o for o in self.open() if o.side == "sell" and o.price <= price),
                          key=lambda o: (o.price, o.seq))
        else:
            book = sorted((o for o in self.open() if o.side == "buy" and o.price >= price),
                          key=lambda o: (-o.price, o.seq))
        fills, remaining, self_trade = [], quantity, False
        for resting in book:
            if remaining == 0:
                break
            if resting.org == org:
                self_trade = True
                break
            q = min(remaining, resting.remaining)
            fills.append((resting, q))
            remaining -= q
        if tif == "fok" and remaining:
            fills, remaining = [], quantity
        trades = []
        for resting, q in fills:
            resting.remaining -= q
            if resting.remaining == 0:
                resting.status = "filled"
            buyer, seller = (org, resting.org) if side == "buy" else (resting.org, org)
            trades.append((buyer, seller, resting.price, q))
        self.trades += trades
        order.remaining = remaining
        if remaining == 0:
            order.status = "filled"
        elif self_trade or tif in ("ioc", "fok"):
            order.status = "cancelled"
        return order, trades

    def cancel(self, seq) -> None:
        if self.orders[seq].status == "open":
            self.orders[seq].status = "cancelled"

    def reduce(self, seq, new_remaining) -> None:
        """Reduce an open order's remaining quantity (a no-op when the reduction is invalid, as the
        engine refuses it)."""
        o = self.orders[seq]
        if o.status == "open" and 0 < new_remaining < o.remaining and new_remaining % self.lot == 0:
            o.remaining = new_remaining
