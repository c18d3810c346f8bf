"""What freezing (suspending) an organization does to its order book: every open order is cancelled, its
escrow released and each cancel audited, in the suspension's own transaction (`accounts.services.
organization_suspended`, connected in `TradingConfig.ready`; the listings room pulls listings and bids,
`trading.listings.freeze`). Pulling is the first line; the second is the platform invariant in
`services._match`: a resting order of a suspended organization never fills, even one placed concurrently
with the freeze. Lock order: the organization row (the suspension's), each market in id order, then the
accounts, as every order-book writer takes them after its market lock."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import Organization
from trading.models import Order, OrderStatus
from trading.orderbook import services

REASON = "organization_suspended"


def pull_orders(*, organization: Organization, actor: Actor, reason: str = "") -> list[int]:
    """Cancel every open order of `organization`, releasing its escrow; returns their ids."""
    assert transaction.get_connection().in_atomic_block, "pull_orders runs inside the suspension"
    pulled = []
    market_ids = sorted(set(Order.objects.filter(organization=organization, status=OrderStatus.OPEN)
                            .values_list("market_id", flat=True)))
    for market_id in market_ids:
        market = services.market_lock(market_id=market_id, now=timezone.now())
        orders = list(Order.objects.select_for_update().filter(market_id=market_id, organization=organization,
                                                               status=OrderStatus.OPEN).order_by("id"))
        if not orders:
            continue
        services._lock_accounts(market, orders)
        for order in orders:
            before = {"status": order.status, "remaining": order.remaining, "held": order.hold_remaining}
            services._close_order(order, market, OrderStatus.CANCELLED, REASON, actor)
            audit_record(actor=actor, action="order.cancel", object_type="order", object_id=order.id,
                         before=before, after={"status": order.status, "reason": REASON, "detail": reason[:200]},
                         region_codes=[organization.region_id])
            pulled.append(order.id)
    return pulled


def on_organization_suspended(sender, *, organization, actor, reason="", summary=None, **kwargs) -> None:
    pulled = pull_orders(organization=organization, actor=actor, reason=reason)
    if pulled and summary is not None:
        summary["orders"] = len(pulled)
