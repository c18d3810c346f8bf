"""Fee and value arithmetic of trading, integers only, under the one rounding rule of `core.money`
(a CNY amount computed from price × quantity or from a rate is rounded up to the next fen, once).

In the order book the lot is a whole number of units, so `trade_value` is exact there; fees use the
ceiling. Fees are a function of an order's *cumulative* filled value (`total_fee`), and each fill is
charged the increase, so the fees of an order do not depend on how it was split into fills and the
minimum fee is charged once per order and side.
"""
from __future__ import annotations

from core.money import ceil_div


def trade_value(price: int, quantity: int, scale: int) -> int:
    """fen for `quantity` minor units at `price` fen per whole unit."""
    return ceil_div(price * quantity, 10**scale)


def total_fee(cumulative_value: int, *, bps: int, minimum: int) -> int:
    if cumulative_value <= 0:
        return 0
    return max(minimum, ceil_div(cumulative_value * bps, 10_000))


def fill_fee(before: int, after: int, *, bps: int, minimum: int) -> int:
    """Fee for a fill that raises an order's filled value from `before` to `after`."""
    return total_fee(after, bps=bps, minimum=minimum) - total_fee(before, bps=bps, minimum=minimum)


def buy_hold_needed(*, limit: int, remaining: int, filled_value: int, scale: int, bps: int, minimum: int) -> int:
    """The most the remaining quantity of a buy order can still cost: its value at the limit price plus
    the fee increase that value would cause."""
    worst = trade_value(limit, remaining, scale)
    return worst + total_fee(filled_value + worst, bps=bps, minimum=minimum) - total_fee(filled_value, bps=bps,
                                                                                          minimum=minimum)
