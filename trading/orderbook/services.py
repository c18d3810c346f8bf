"""Order-book use cases: `order_place`, `order_cancel`, `order_reduce`, `market_roll_session`.

Every use case locks the market row first (`SELECT … FOR UPDATE`): a market's book changes one
transaction at a time while different markets proceed in parallel; the ledger's account locks come
after the market lock, always, so the lock order is market → accounts. A transaction that touches
several accounts of one market (day-order expiry) locks them all at once in id order before the first
release, the order every multi-account ledger statement uses, so it cannot deadlock with another
market's expiry or with settlement.

Matching runs inside the placement transaction; trades print at the resting order's price. The book
is read best-first through the partial indexes `order_book_asks` / `order_book_bids` in growing
batches with a keyset cursor, so the cost of a placement depends on the orders it trades with, not on
how many orders rest in the book. Resting orders are written back once, after matching.

Time in force: GTC rests until cancelled; DAY rests until the end of its trading day; IOC trades what
it can now and cancels the rest; FOK trades its whole quantity now or nothing (decided on the actual
fills, so self-trade prevention and trade-stage rules are taken into account). Self-trade prevention:
when the next order to trade with belongs to the same organization, the incoming remainder is
cancelled (fills made before that point stand; for FOK nothing trades).

`now` arguments exist for tests and replays; production callers leave them out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import Organization
from core.checks import run
from core.errors import DomainError
from ledger.models import Account, Asset
from ledger.posting import accounts_ensure
from ledger.services import cny, hold_place, hold_release
from marketplace import errors as market_errors
from marketplace.models import Market, MarketStatus, SessionClose
from marketplace.rules import (
    ORDER_CHECKS,
    CheckContext,
    OrganizationActive,
    Refused,
    enforce,
    price_band,  # noqa: F401  (M-BAND-001's band, for this module's callers)
)
from marketplace.sessions import is_session_key, market_state_at, trading_day
from trading.common import pricing
from trading.common.signals import announce_pending_approval
from trading.models import (
    Order,
    OrderStatus,
    Side,
    TimeInForce,
    Trade,
    TradeEvent,
    TradeSource,
    TradeStatus,
)
from trading.orderbook.errors import INVALID_REDUCE, ORDER_NOT_OPEN, TOO_MANY_OPEN_ORDERS
from trading.orderbook.sql import (
    BOOK,
    MARKET_LOCK,
    MARKET_LOCK_NO_KEY,
    SESSION_FIGURES,
    TRADE_EVENTS_INSERT,
    TRADES_INSERT,
    orders_write_sql,
)
from trading.settlement.outbox import enqueue_after_commit, outbox_row_for
from trading.settlement.sql import OUTBOX_INSERT

MATCH_BATCH = 256  # the largest batch of resting orders read at once (batches grow 4, 16, 64, 256)
FIRST_BATCH = 4
BIGINT_MAX = 2**63 - 1
@dataclass
class PlaceResult:
    order: Order
    trades: list[Trade] = field(default_factory=list)


# --- market lock and session roll-over --------------------------------------------------------------

def _lock_market_row(market_id, statement=MARKET_LOCK) -> Market | None:
    try:
        market_id = int(market_id)
    except (TypeError, ValueError):
        return None
    if not 0 < market_id <= BIGINT_MAX:
        return None
    loaded = statement.one(market=market_id)
    if loaded is None:
        return None
    market = loaded[0]
    market.rules_generation = loaded.extra["rules_generation"]
    return market


def market_lock(*, market_id: int, now: datetime, no_key: bool = False) -> Market:
    """Lock the market row and roll it into the state at `now`: close the previous session (VWAP),
    expire day orders whose trading day is over. Sets `market.session_now` (None outside sessions).
    `no_key`: FOR NO KEY UPDATE (the matching engine's batches, which must not wait for acceptances)."""
    market = _lock_market_row(market_id, MARKET_LOCK_NO_KEY if no_key else MARKET_LOCK)
    if market is None:
        raise DomainError(market_errors.UNKNOWN_MARKET)
    windows = None if market.always_open else list(market.session_windows.all())
    session, state = market_state_at(market, now, windows)
    if state != market.current_session:
        _roll_session(market, session, state)
    market.session_now = session
    return market


def _roll_session(market: Market, session: str | None, state: str) -> None:
    previous = market.current_session
    if is_session_key(previous):
        _close_session(market, previous)
    # day orders of an earlier trading day expire; those of today too once today's trading is over
    keep_day = trading_day(state) if session is not None or state.endswith("#break") else None
    _expire_day_orders(market, keep_day)
    market.current_session = state
    market.save(update_fields=["current_session", "reference_price"])


def _close_session(market: Market, session: str) -> None:
    """Record the session's figures; its VWAP (rounded half up to the fen) becomes the reference price."""
    with connection.cursor() as cur:
        SESSION_FIGURES.run(cur, {"market": market.id, "session": session})
        n, volume, value, high, low, first = cur.fetchone()
    if not n:
        return  # no trades: the reference price stays the last close
    scaled = value * 10**market.asset.scale
    vwap = (2 * scaled + volume) // (2 * volume)
    SessionClose.objects.get_or_create(market=market, session=session, defaults=dict(
        open=first, high=high, low=low, close=vwap, volume=volume, value=value, trades=n))
    market.reference_price = vwap


def _expire_day_orders(market: Market, keep_day: str | None) -> None:
    qs = Order.objects.filter(market=market, status=OrderStatus.OPEN, time_in_force=TimeInForce.DAY)
    if keep_day is not None:
        qs = qs.exclude(session__startswith=keep_day)
    orders = list(qs.order_by("id"))
    if not orders:
        return
    _lock_accounts(market, orders)
    actor = Actor.system()
    for order in orders:
        _close_order(order, market, OrderStatus.EXPIRED, "day_end", actor)


def _lock_accounts(market: Market, orders: list[Order]) -> None:
    """Lock every account the releases of `orders` will touch, in id order, in one statement."""
    keys = sorted({(o.organization_id, _hold_asset(market, o.side).id, "participant") for o in orders})
    ids = sorted(set(accounts_ensure(keys).values()))
    list(Account.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))


@transaction.atomic
def market_roll_session(*, market_id: int, now: datetime | None = None) -> None:
    market_lock(market_id=market_id, now=now or timezone.now())


@transaction.atomic
def market_close(*, actor: Actor, market_id: int, reason: str, now: datetime | None = None) -> Market:
    """Close a market for good: no new orders; every open order is cancelled and its escrow released
    (trades already matched still settle)."""
    market = market_lock(market_id=market_id, now=now or timezone.now())
    before = market.status
    market.status = MarketStatus.CLOSED
    market.save(update_fields=["status"])
    orders = list(Order.objects.filter(market=market, status=OrderStatus.OPEN).order_by("id"))
    if orders:
        _lock_accounts(market, orders)
    for order in orders:
        _close_order(order, market, OrderStatus.CANCELLED, "market_closed", actor)
    audit_record(actor=actor, action="market.close", object_type="market", object_id=market.id,
                 before={"status": before},
                 after={"status": MarketStatus.CLOSED, "reason": reason, "cancelled": len(orders)},
                 region_codes=[market.asset.origin_region_id] if market.asset.origin_region_id else [])
    return market


# --- checks -----------------------------------------------------------------------------------------

def _check_input(side: str, price: int, quantity: int, time_in_force: str) -> None:
    bad = {}
    if side not in Side.values:
        bad["side"] = f"one of {', '.join(Side.values)}"
    if time_in_force not in TimeInForce.values:
        bad["time_in_force"] = f"one of {', '.join(TimeInForce.values)}"
    for name, value in (("price", price), ("quantity", quantity)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            bad[name] = "must be a positive integer in minor units"
        elif value > BIGINT_MAX:
            bad[name] = "too large"
    if bad:
        raise DomainError("validation_error", fields=bad)


def _check_order(market: Market, organization: Organization, price: int, quantity: int, now: datetime) -> None:
    """The fixed checks of an order: Q-ACTIVE-001, then the market's (`ORDER_CHECKS`, M-* and A-VALID-001)."""
    OrganizationActive.enforce(organization=organization)
    run(ORDER_CHECKS, market=market, price=price, quantity=quantity, now=now)


def _check_open_order_cap(market: Market, organization: Organization) -> None:
    """At most `settings.MAX_OPEN_ORDERS_PER_MARKET` open orders per organization and market (a load limit,
    checked under the market lock, so concurrent placements cannot both take the last place)."""
    cap = getattr(settings, "MAX_OPEN_ORDERS_PER_MARKET", None)
    if not cap:
        return
    open_orders = Order.objects.filter(organization=organization, status=OrderStatus.OPEN, market=market)
    if open_orders[:cap].count() >= cap:
        raise DomainError(TOO_MANY_OPEN_ORDERS, cap=cap)


def _rule_check(*, stage, market, buyer, seller, price, quantity, now) -> tuple[int | None, object]:
    """The rulebook through `enforce`: raises `Refused` on a refusal, else (version, approval or None)."""
    return enforce(CheckContext(stage=stage, asset=market.asset, at=now, buyer=buyer, seller=seller, price=price,
                                quantity=quantity, rules_generation=getattr(market, "rules_generation", None)))


# --- placing, matching, cancelling -----------------------------------------------------------------

def _hold_asset(market: Market, side: str) -> Asset:
    return cny() if side == "buy" else market.asset


def _buy_hold(market: Market, *, limit: int, remaining: int, filled_value: int) -> int:
    return pricing.buy_hold_needed(limit=limit, remaining=remaining, filled_value=filled_value,
                                   scale=market.asset.scale, bps=market.fee_bps, minimum=market.fee_min)


def _write_orders(orders: list[Order]) -> None:
    """Write the matching state of `orders` in one UPDATE … FROM (VALUES …) statement (Django's
    bulk_update builds a CASE per field and row, which costs milliseconds of CPU per call)."""
    now = timezone.now()
    params: list = [now]
    for o in orders:
        o.updated_at = now
        params += [o.id, o.remaining, o.filled_value, o.fees_charged, o.hold_remaining, o.status, o.cancel_reason]
    with connection.cursor() as cur:
        cur.execute(orders_write_sql(len(orders)), params)


@transaction.atomic
def order_place(*, actor: Actor, organization: Organization, market_id: int, side: str, price: int, quantity: int,
                time_in_force: str = "gtc", client_order_id: str = "", now: datetime | None = None) -> PlaceResult:
    """Place a limit order: check it, hold its escrow, match it against the book (price-time priority,
    trades at the resting price), and rest, cancel or finish it according to its time in force."""
    _check_input(side, price, quantity, time_in_force)
    now = now or timezone.now()
    market = market_lock(market_id=market_id, now=now)
    _check_order(market, organization, price, quantity, now)
    _check_open_order_cap(market, organization)
    rule_version, _ = _rule_check(stage="order", market=market, buyer=organization if side == "buy" else None,
                                  seller=organization if side == "sell" else None, price=price,
                                  quantity=quantity, now=now)
    hold = _buy_hold(market, limit=price, remaining=quantity, filled_value=0) if side == "buy" else quantity
    if hold > BIGINT_MAX:
        raise DomainError("validation_error", fields={"quantity": "price × quantity is too large"})
    order = Order.objects.create(
        market=market, organization=organization, user_id=actor.user_id, side=side, time_in_force=time_in_force,
        price=price, quantity=quantity, remaining=quantity, hold_remaining=hold, session=market.session_now,
        rule_version=rule_version, client_order_id=client_order_id)
    hold_place(actor=actor, organization_id=organization.id, asset=_hold_asset(market, side), amount=hold,
               reference=("order", order.id), idempotency_key=f"order:{order.id}:hold")
    trades, touched, self_trade = _match(order, market, organization, now)
    if order.status == OrderStatus.OPEN and order.remaining:
        if self_trade:
            _close_order(order, market, OrderStatus.CANCELLED, "self_trade_prevented", actor, save=False)
        elif time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            _close_order(order, market, OrderStatus.CANCELLED, "unfilled_" + time_in_force, actor, save=False)
    if trades or order.status != OrderStatus.OPEN:
        touched.append(order)
    if touched:  # the incoming order and the resting ones it traded with, in one statement
        _write_orders(touched)
    audit_record(actor=actor, action="order.place", object_type="order", object_id=order.id,
                 after={"market": market.code, "side": side, "price": price, "quantity": quantity,
                        "time_in_force": time_in_force, "status": order.status, "trades": [t.id for t in trades]},
                 region_codes=[organization.region_id])
    enqueue_after_commit([t for t in trades if t.status == TradeStatus.MATCHED])
    announce_pending_approval(trades)
    return PlaceResult(order=order, trades=trades)


def _book_after(order: Order, cursor: tuple[int, int] | None, limit: int) -> list[Order]:
    """The next `limit` open orders on the other side that cross `order`, best first (price, then
    time), after the keyset `cursor` (price, id) of the last one read, each with its organization: one
    prepared statement (`sql.BOOK`)."""
    if cursor:
        loaded = BOOK[(order.side, True)].all(market=order.market_id, limit_price=order.price, after_price=cursor[0],
                                             after_id=cursor[1], batch=limit)
    else:
        loaded = BOOK[(order.side, False)].all(market=order.market_id, limit_price=order.price, batch=limit)
    return [row[0] for row in loaded]


def _db_book(order: Order):
    """The resting orders that cross `order`, best first, read from the database in growing batches
    (4, 16, 64, 256) with a keyset cursor: only as many as matching consumes are read."""
    cursor, limit = None, FIRST_BATCH
    while True:
        batch = _book_after(order, cursor, limit)
        yield from batch
        if len(batch) < limit:
            return  # the book is exhausted on this side
        cursor = (batch[-1].price, batch[-1].id)
        limit = min(limit * 4, MATCH_BATCH)


def _match(order: Order, market: Market, organization: Organization,
           now: datetime) -> tuple[list[Trade], list[Order], bool]:
    """Match `order` against the book in the database and write the trades (with their events and outbox
    rows). Returns (trades, resting orders changed — the caller writes them —, stopped by self-trade
    prevention). A FOK order that cannot fill completely leaves everything untouched."""
    trades, touched, self_trade = _cross(order, market, organization, now, _db_book(order))
    if trades:
        _write_trades(market, trades)
    return trades, touched, self_trade


def _write_trades(market: Market, trades: list[Trade], *, settled_now: frozenset = frozenset()) -> None:
    """The trades with their MATCHED (or pending) events and the outbox rows of those to settle, except
    `settled_now` (the matching engine settles those in the same transaction: no outbox row, #19)."""
    # prepared INSERTs over arrays (`core.prepared.BulkInsert`): no INSERT compiled and planned per batch
    TRADES_INSERT.insert(trades)
    TRADE_EVENTS_INSERT.insert([TradeEvent(trade=t, status=t.status, detail={"source": "order_book"})
                                for t in trades])
    OUTBOX_INSERT.insert([outbox_row_for(t, market) for t in trades
                          if t.status == TradeStatus.MATCHED and id(t) not in settled_now])


_MATCH_STATE = ("remaining", "filled_value", "fees_charged", "hold_remaining", "status")


def _cross(order: Order, market: Market, organization: Organization, now: datetime,
           book) -> tuple[list[Trade], list[Order], bool]:
    """The matching rules, in memory, shared by the inline path and the matching engine
    (`trading.orderbook.engine`): trade `order` with the resting orders `book` yields (those that cross
    it, best first) — price-time priority, trades at the resting price, self-trade prevention,
    trade-stage rules, fees on cumulative value. Returns the unsaved trades, the resting orders changed
    and whether self-trade prevention stopped it. A FOK order that cannot fill completely changes
    nothing (its own and the resting orders' state are restored)."""
    snapshots = [(order, tuple(getattr(order, f) for f in _MATCH_STATE))]
    trades: list[Trade] = []
    touched: list[Order] = []
    self_trade = False
    scale = market.asset.scale
    for resting in book:
        if not resting.organization.is_active:
            # platform invariant, not a rule: a frozen organization's order never fills (freezing
            # pulls them; one that slipped in concurrently rests inert until then)
            continue
        if resting.organization_id == order.organization_id:
            self_trade = True  # self-trade prevention: the incoming remainder is cancelled
            break
        buy, sell = (order, resting) if order.side == "buy" else (resting, order)
        buyer, seller = (organization, resting.organization) if order.side == "buy" else (resting.organization,
                                                                                           organization)
        quantity = min(order.remaining, resting.remaining)
        try:
            rule_version, refusal = _rule_check(stage="trade", market=market, buyer=buyer, seller=seller,
                                                price=resting.price, quantity=quantity, now=now)
        except Refused:
            continue  # this pair may not trade; the book behind it still may
        snapshots.append((resting, tuple(getattr(resting, f) for f in _MATCH_STATE)))
        trades.append(_fill(market, buy, sell, buyer, seller, resting.price, quantity, scale, order.side,
                            rule_version, pending=bool(refusal)))
        touched.append(resting)
        if order.remaining == 0:
            break

    if order.time_in_force == TimeInForce.FOK and order.remaining > 0:
        for o, values in snapshots:
            for name, value in zip(_MATCH_STATE, values):
                setattr(o, name, value)
        return [], [], self_trade
    return trades, touched, self_trade


def _fill(market, buy: Order, sell: Order, buyer, seller, price: int, quantity: int, scale: int, aggressor: str,
          rule_version, pending: bool) -> Trade:
    """One fill, in memory: move the fill's share of both orders' escrow to the trade."""
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


def _locked_own_order(order_id: int, organization: Organization, now: datetime) -> tuple[Market, Order]:
    """Lock the order's market (rolling its session), then the order; 404 for another organization's."""
    market_id = Order.objects.filter(pk=order_id, organization=organization).values_list("market_id", flat=True).first()
    if market_id is None:
        raise DomainError("not_found")
    market = market_lock(market_id=market_id, now=now)
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status != OrderStatus.OPEN:
        raise DomainError(ORDER_NOT_OPEN, fields={"status": order.status})
    order.market = market
    return market, order


@transaction.atomic
def order_cancel(*, actor: Actor, organization: Organization, order_id: int, now: datetime | None = None) -> Order:
    """Cancel an open order and release its escrow (allowed outside sessions and on a halted market)."""
    market, order = _locked_own_order(order_id, organization, now or timezone.now())
    before = {"status": order.status, "remaining": order.remaining}
    _close_order(order, market, OrderStatus.CANCELLED, "cancelled_by_owner", actor)
    audit_record(actor=actor, action="order.cancel", object_type="order", object_id=order.id, before=before,
                 after={"status": order.status}, region_codes=[organization.region_id])
    return order


@transaction.atomic
def order_reduce(*, actor: Actor, organization: Organization, order_id: int, new_remaining: int,
                 now: datetime | None = None) -> Order:
    """Reduce an open order's remaining quantity (keeps its time priority); releases the freed escrow."""
    market, order = _locked_own_order(order_id, organization, now or timezone.now())
    if (not isinstance(new_remaining, int) or not 0 < new_remaining < order.remaining
            or new_remaining % market.lot_size):
        raise DomainError(INVALID_REDUCE, fields={"remaining": f"between one lot and {order.remaining}, in lots"})
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
