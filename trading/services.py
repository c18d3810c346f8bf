"""Order-book use cases: `order_place`, `order_cancel`, `order_reduce`, `market_roll_session`.

Every use case locks the market row first (`SELECT … FOR UPDATE`): a market's book changes one
transaction at a time while different markets proceed in parallel; the ledger's account locks come
after the market lock, always, so the lock order is market → accounts (sorted) and cannot deadlock.
Matching runs inside the placement transaction; trades print at the resting order's price.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.errors import ApiError
from accounts.models import Organization
from ledger.models import Asset
from ledger.services import cash_asset, hold_place, hold_release
from marketplace import errors as market_errors
from marketplace.models import Market, SessionClose
from marketplace.rules import CheckContext, evaluate
from marketplace.sessions import session_at

from . import pricing
from .errors import INVALID_REDUCE, ORDER_NOT_OPEN
from .models import Order, OrderStatus, SettlementOutbox, Trade, TradeEvent, TradeSource, TradeStatus
from .outbox import enqueue_after_commit, outbox_row_for

MATCH_BATCH = 50
_cash: dict[str, Asset] = {}


def cny() -> Asset:
    if "CNY" not in _cash:
        _cash["CNY"] = cash_asset()
    return _cash["CNY"]


@dataclass
class PlaceResult:
    order: Order
    trades: list[Trade] = field(default_factory=list)


# --- market lock and session roll-over --------------------------------------------------------------

def market_lock(*, market_id: int, now: datetime) -> Market:
    """Lock the market row and roll it into the session open at `now` (closing the previous one)."""
    try:
        market = Market.objects.select_for_update(of=("self",)).select_related("asset").get(pk=market_id)
    except Market.DoesNotExist:
        raise ApiError(market_errors.UNKNOWN_MARKET)
    session = session_at(market, now)
    if session and session != market.current_session:
        _roll_session(market, session, now)
    market.session_now = session
    return market


def _roll_session(market: Market, session: str, now: datetime) -> None:
    previous = market.current_session
    if previous:
        agg = Trade.objects.filter(market=market, session=previous, source=TradeSource.ORDER_BOOK).aggregate(
            n=Count("id"), volume=Sum("quantity"), value=Sum("value"), high=Max("price"), low=Min("price"))
        if agg["n"]:
            first = Trade.objects.filter(market=market, session=previous, source=TradeSource.ORDER_BOOK).order_by("id").first()
            vwap = pricing.ceil_div(agg["value"] * 10**market.asset.scale, agg["volume"])
            SessionClose.objects.get_or_create(market=market, session=previous, defaults=dict(
                open=first.price, high=agg["high"], low=agg["low"], close=vwap, volume=agg["volume"],
                value=agg["value"], trades=agg["n"]))
            market.reference_price = vwap
    for order in Order.objects.filter(market=market, status=OrderStatus.OPEN, time_in_force="day").exclude(
            session=session):
        _close_order(order, market, OrderStatus.EXPIRED, "session_end", Actor.system())
    market.current_session = session
    market.save(update_fields=["current_session", "reference_price"])


@transaction.atomic
def market_roll_session(*, market_id: int, now: datetime | None = None) -> None:
    market_lock(market_id=market_id, now=now or timezone.now())


# --- checks -----------------------------------------------------------------------------------------

def price_band(market: Market) -> tuple[int, int] | None:
    if market.price_band_bps is None or market.reference_price is None:
        return None
    ref, bps = market.reference_price, market.price_band_bps
    return pricing.ceil_div(ref * (10_000 - bps), 10_000), ref * (10_000 + bps) // 10_000


def _check_order(market: Market, organization: Organization, price: int, quantity: int) -> None:
    if not organization.is_active:
        raise ApiError("organization_suspended")
    if market.status == "halted":
        raise ApiError(market_errors.MARKET_HALTED)
    if market.status == "closed":
        raise ApiError(market_errors.MARKET_CLOSED)
    if market.session_now is None:
        raise ApiError(market_errors.OUTSIDE_SESSION)
    if price % market.tick_size:
        raise ApiError(market_errors.PRICE_OFF_TICK, fields={"price": f"tick size is {market.tick_size} fen"})
    if quantity % market.lot_size:
        raise ApiError(market_errors.QUANTITY_OFF_LOT, fields={"quantity": f"lot size is {market.lot_size}"})
    if quantity < market.min_quantity:
        raise ApiError(market_errors.BELOW_MIN_QUANTITY, fields={"quantity": f"minimum is {market.min_quantity}"})
    band = price_band(market)
    if band and not band[0] <= price <= band[1]:
        raise ApiError(market_errors.PRICE_OUTSIDE_BAND, fields={"price": f"allowed {band[0]}..{band[1]} fen"})
    if market.asset.is_expired(timezone.localdate()):
        raise ApiError("asset_expired")


def _rule_check(*, stage, market, buyer, seller, price, quantity, now) -> tuple[int | None, object]:
    return evaluate(CheckContext(stage=stage, asset=market.asset, at=now, buyer=buyer, seller=seller, price=price,
                                 quantity=quantity))


# --- placing, matching, cancelling -----------------------------------------------------------------

def _hold_asset(market: Market, side: str) -> Asset:
    return cny() if side == "buy" else market.asset


def _buy_hold(market: Market, *, limit: int, remaining: int, filled_value: int) -> int:
    return pricing.buy_hold_needed(limit=limit, remaining=remaining, filled_value=filled_value,
                                   scale=market.asset.scale, bps=market.fee_bps, minimum=market.fee_min)


@transaction.atomic
def order_place(*, actor: Actor, organization: Organization, market_id: int, side: str, price: int, quantity: int,
                time_in_force: str = "gtc", client_order_id: str = "", now: datetime | None = None) -> PlaceResult:
    now = now or timezone.now()
    market = market_lock(market_id=market_id, now=now)
    _check_order(market, organization, price, quantity)
    rule_version, refusal = _rule_check(stage="order", market=market, buyer=organization if side == "buy" else None,
                                        seller=organization if side == "sell" else None, price=price,
                                        quantity=quantity, now=now)
    if refusal and not refusal.needs_approval:
        raise ApiError(refusal.code, **refusal.message_params)
    hold = _buy_hold(market, limit=price, remaining=quantity, filled_value=0) if side == "buy" else quantity
    order = Order.objects.create(
        market=market, organization=organization, user_id=actor.user_id, side=side, time_in_force=time_in_force,
        price=price, quantity=quantity, remaining=quantity, hold_remaining=hold, session=market.session_now,
        rule_version=rule_version, client_order_id=client_order_id)
    hold_place(actor=actor, organization_id=organization.id, asset=_hold_asset(market, side), amount=hold,
               reference=("order", order.id), idempotency_key=f"order:{order.id}:hold")
    trades = _match(order, market, organization, actor, now)
    if order.remaining and time_in_force in ("ioc", "fok") and order.status == OrderStatus.OPEN:
        _close_order(order, market, OrderStatus.CANCELLED, "unfilled_" + time_in_force, actor, save=False)
    order.save()
    audit_record(actor=actor, action="order.place", object_type="order", object_id=order.id,
                 after={"market": market.code, "side": side, "price": price, "quantity": quantity,
                        "time_in_force": time_in_force, "status": order.status, "trades": [t.id for t in trades]},
                 region_codes=[organization.region_id])
    enqueue_after_commit([t for t in trades if t.status == TradeStatus.MATCHED])
    return PlaceResult(order=order, trades=trades)


def _crossing(order: Order):
    qs = Order.objects.filter(market_id=order.market_id, status=OrderStatus.OPEN)
    if order.side == "buy":
        return qs.filter(side="sell", price__lte=order.price).order_by("price", "id")
    return qs.filter(side="buy", price__gte=order.price).order_by("-price", "id")


def _fok_fillable(order: Order) -> bool:
    need = order.remaining
    for org_id, remaining in _crossing(order).values_list("organization_id", "remaining").iterator(chunk_size=200):
        if org_id == order.organization_id:
            return False
        need -= remaining
        if need <= 0:
            return True
    return False


def _match(order: Order, market: Market, organization: Organization, actor: Actor, now: datetime) -> list[Trade]:
    if order.time_in_force == "fok" and not _fok_fillable(order):
        return []
    trades, events, touched = [], [], []
    passed: set[int] = set()  # resting orders filled here (not yet saved) or not allowed to trade with this one
    scale = market.asset.scale
    while order.remaining > 0:
        batch = list(_crossing(order).exclude(pk__in=passed).select_related("organization")[:MATCH_BATCH])
        if not batch:
            break
        for resting in batch:
            if resting.organization_id == order.organization_id:
                # self-trade prevention: the incoming remainder is cancelled
                _close_order(order, market, OrderStatus.CANCELLED, "self_trade_prevented", actor, save=False)
                break
            buy, sell = (order, resting) if order.side == "buy" else (resting, order)
            buyer, seller = (organization, resting.organization) if order.side == "buy" else (resting.organization,
                                                                                               organization)
            quantity = min(order.remaining, resting.remaining)
            rule_version, refusal = _rule_check(stage="trade", market=market, buyer=buyer, seller=seller,
                                                price=resting.price, quantity=quantity, now=now)
            if refusal and not refusal.needs_approval:
                passed.add(resting.pk)  # this pair may not trade; the book behind it still may
                continue
            trades.append(_fill(market, buy, sell, buyer, seller, resting.price, quantity, scale, order.side,
                                rule_version, pending=bool(refusal)))
            touched.append(resting)
            if resting.remaining == 0:
                passed.add(resting.pk)
            if order.remaining == 0 or order.status != OrderStatus.OPEN:
                break
        if order.status != OrderStatus.OPEN:
            break
    if touched:
        Order.objects.bulk_update(touched, ["remaining", "filled_value", "fees_charged", "hold_remaining", "status",
                                            "updated_at"])
    if trades:
        Trade.objects.bulk_create(trades)
        for t in trades:
            events.append(TradeEvent(trade=t, status=t.status, detail={"source": "order_book"}))
        TradeEvent.objects.bulk_create(events)
        SettlementOutbox.objects.bulk_create([outbox_row_for(t, market) for t in trades
                                              if t.status == TradeStatus.MATCHED])
    return trades


def _fill(market, buy: Order, sell: Order, buyer, seller, price: int, quantity: int, scale: int, aggressor: str,
          rule_version, pending: bool) -> Trade:
    value = pricing.trade_value(price, quantity, scale)
    fee_args = dict(bps=market.fee_bps, minimum=market.fee_min)
    buyer_fee = pricing.total_fee(buy.filled_value + value, **fee_args) - buy.fees_charged
    seller_fee = min(pricing.total_fee(sell.filled_value + value, **fee_args) - sell.fees_charged, value)

    buy.remaining -= quantity
    buy.filled_value += value
    buy.fees_charged += buyer_fee
    need_after = _buy_hold(market, limit=buy.price, remaining=buy.remaining, filled_value=buy.filled_value)
    buyer_hold = buy.hold_remaining - need_after
    buy.hold_remaining = need_after
    assert buyer_hold >= value + buyer_fee, "buy escrow must cover the fill"

    sell.remaining -= quantity
    sell.filled_value += value
    sell.fees_charged += seller_fee
    sell.hold_remaining -= quantity
    for o in (buy, sell):
        if o.remaining == 0:
            o.status = OrderStatus.FILLED
    return Trade(market=market, asset_id=market.asset_id, source=TradeSource.ORDER_BOOK, buy_order=buy,
                 sell_order=sell, buyer=buyer, seller=seller, price=price, quantity=quantity, value=value,
                 buyer_fee=buyer_fee, seller_fee=seller_fee, buyer_hold=buyer_hold, seller_hold=quantity,
                 aggressor=aggressor, session=market.session_now or "", rule_version=rule_version,
                 status=TradeStatus.PENDING_APPROVAL if pending else TradeStatus.MATCHED)


def _close_order(order: Order, market: Market, status: str, reason: str, actor: Actor, *, save: bool = True) -> None:
    """Cancel or expire an open order, releasing what is still held for it."""
    if order.hold_remaining:
        hold_release(actor=actor, organization_id=order.organization_id, asset=_hold_asset(market, order.side),
                     amount=order.hold_remaining, reference=("order", order.id),
                     idempotency_key=f"order:{order.id}:release:{order.hold_remaining}:{order.remaining}")
    order.hold_remaining = 0
    order.status = status
    order.cancel_reason = reason
    if save:
        order.save(update_fields=["hold_remaining", "status", "cancel_reason", "updated_at"])


def _owned_open_order(order_id: int, organization: Organization) -> Order:
    order = Order.objects.select_for_update().filter(pk=order_id, organization=organization).first()
    if order is None:
        raise ApiError("not_found")
    if order.status != OrderStatus.OPEN:
        raise ApiError(ORDER_NOT_OPEN)
    return order


@transaction.atomic
def order_cancel(*, actor: Actor, organization: Organization, order_id: int) -> Order:
    market_id = Order.objects.filter(pk=order_id, organization=organization).values_list("market_id", flat=True).first()
    if market_id is None:
        raise ApiError("not_found")
    market = market_lock(market_id=market_id, now=timezone.now())
    order = _owned_open_order(order_id, organization)
    before = {"status": order.status, "remaining": order.remaining}
    _close_order(order, market, OrderStatus.CANCELLED, "cancelled_by_owner", actor)
    audit_record(actor=actor, action="order.cancel", object_type="order", object_id=order.id, before=before,
                 after={"status": order.status}, region_codes=[organization.region_id])
    return order


@transaction.atomic
def order_reduce(*, actor: Actor, organization: Organization, order_id: int, new_remaining: int) -> Order:
    """Reduce an open order's remaining quantity (keeps its time priority); releases the freed escrow."""
    market_id = Order.objects.filter(pk=order_id, organization=organization).values_list("market_id", flat=True).first()
    if market_id is None:
        raise ApiError("not_found")
    market = market_lock(market_id=market_id, now=timezone.now())
    order = _owned_open_order(order_id, organization)
    if not 0 < new_remaining < order.remaining or new_remaining % market.lot_size:
        raise ApiError(INVALID_REDUCE, fields={"remaining": f"between one lot and {order.remaining}, in lots"})
    before = {"remaining": order.remaining, "hold": order.hold_remaining}
    if order.side == "buy":
        need = _buy_hold(market, limit=order.price, remaining=new_remaining, filled_value=order.filled_value)
    else:
        need = new_remaining
    freed = order.hold_remaining - need
    if freed:
        hold_release(actor=actor, organization_id=organization.id, asset=_hold_asset(market, order.side), amount=freed,
                     reference=("order", order.id), idempotency_key=f"order:{order.id}:reduce:{new_remaining}")
    order.quantity -= order.remaining - new_remaining
    order.remaining = new_remaining
    order.hold_remaining = need
    order.save(update_fields=["quantity", "remaining", "hold_remaining", "updated_at"])
    audit_record(actor=actor, action="order.reduce", object_type="order", object_id=order.id, before=before,
                 after={"remaining": order.remaining, "hold": order.hold_remaining},
                 region_codes=[organization.region_id])
    return order
