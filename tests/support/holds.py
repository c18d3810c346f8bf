"""Escrow = exposure, checked against the database: the order book's model tests (inline and the matching
engine) assert it after every step of their random streams."""
from __future__ import annotations

from django.db.models import Sum

from ledger.models import Account, Asset
from trading.common import pricing
from trading.models import Order, Trade

# trades whose escrow is still held (matched, waiting for approval, approved, being settled)
UNSETTLED = ("matched", "pending_approval", "approved", "settling")


def hold_needed(o: Order, *, scale: int, fee_bps: int, fee_min: int) -> int:
    """What an order must hold for its remainder: the rights for a sell, the cash (fee included, on the
    cumulative value) for a buy."""
    if o.side == "sell":
        return o.remaining
    return pricing.buy_hold_needed(limit=o.price, remaining=o.remaining, filled_value=o.filled_value, scale=scale,
                                   bps=fee_bps, minimum=fee_min)


def check_holds_equal_exposure(market, orgs, *, scale: int, fee_bps: int, fee_min: int) -> None:
    """Every open order holds exactly what its remainder needs, and each organization's held cash and
    rights equal its live orders' holds (open, and accepted by the engine) plus its unsettled trades'."""
    cny = Asset.objects.get(code="CNY")
    for o in Order.objects.filter(market=market, status="open"):
        assert o.hold_remaining == hold_needed(o, scale=scale, fee_bps=fee_bps, fee_min=fee_min), \
            f"order {o.id} holds {o.hold_remaining}"
    for org in orgs:
        held = dict(Account.objects.filter(organization=org, kind="participant").values_list("asset_id", "held"))
        live = Order.objects.filter(organization=org, status__in=("open", "accepted"))
        buy_open = live.filter(side="buy").aggregate(s=Sum("hold_remaining"))["s"] or 0
        sell_open = live.filter(side="sell").aggregate(s=Sum("hold_remaining"))["s"] or 0
        unsettled = Trade.objects.filter(status__in=UNSETTLED)
        buy_trades = unsettled.filter(buyer=org).aggregate(s=Sum("buyer_hold"))["s"] or 0
        sell_trades = unsettled.filter(seller=org).aggregate(s=Sum("seller_hold"))["s"] or 0
        assert held.get(cny.id, 0) == buy_open + buy_trades, f"org {org.id}: held CNY != open exposure"
        assert held.get(market.asset_id, 0) == sell_open + sell_trades, f"org {org.id}: held rights != open exposure"
