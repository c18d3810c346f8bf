"""The sequenced matching engine of a market (issue #19), behind the switch `settings.ORDER_MATCHING`
(`inline`, the default: `services.order_place` matches inside the placing transaction; `engine`: every
market) and `settings.ENGINE_MARKETS` (market ids matched by the engine while the default is inline).

Accept: `order_accept` checks the order (input, the market's fixed checks at the time of acceptance,
the rulebook's order stage, the open-order cap), and in one transaction writes the order (status
`accepted`), its escrow hold (a ledger transaction, as inline), its `OrderRequest` (the market's
queue) and its audit event, then wakes the engine (`pg_notify`, delivered at commit). It takes no
market lock, so acceptances of one market run in parallel. `order_cancel_request` and
`order_reduce_request` queue requests of the same kind.

Engine: `Engine(market_id)` owns one market's book in memory. Ownership is a session advisory lock
(`pg_try_advisory_lock(ENGINE_LOCK_CLASS, market id)`) on the engine's connection, and every batch
first checks, in its own transaction, that its connection still holds it (the fence): a second engine
for the market cannot take the lock, and an engine whose connection was lost cannot write. The book is
loaded from the database (open orders, price then id) when the engine starts, after any failure, and
whenever the market's session state or status changed behind it (session roll-over expires day
orders; closing cancels the book). Each batch is one transaction: the market row lock (as every
order-book writer takes it — FOR NO KEY UPDATE here, which excludes the inline writers' FOR UPDATE and
other batches but not acceptances, which hold the row FOR KEY SHARE), the next requests in id
order, matching by the same rules as the inline path (`services._cross`: price-time, STP, IOC/FOK,
trade-stage rules, fees on cumulative value), then the results in a few statements — trades with
their events and settlement outbox rows, every changed order in one UPDATE, the requests deleted, the
audit events. Every order UPDATE is guarded by the `updated_at` the engine last saw: an order changed
behind the engine (an inline cancel, a suspension pulling orders) makes the batch roll back and the
book reload. A crash anywhere loses nothing: the requests are still queued and the book reloads from
what committed.

Time priority is the order id (given at acceptance), in memory and on reload alike, so a reload
rebuilds exactly the book the engine had. Settlement is unchanged: matched trades go to the outbox and
the settlement queue after commit; trades awaiting approval settle as they do today.
"""
from __future__ import annotations

import bisect
import logging
import select
import time
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import AuditEvent, Organization
from core.errors import DomainError
from ledger.services import hold_place, hold_release
from marketplace import errors as market_errors
from marketplace.models import Market
from marketplace.sessions import market_state_at
from trading.common.signals import announce_pending_approval
from trading.models import Order, OrderRequest, OrderRequestKind, OrderStatus, TimeInForce, TradeStatus
from trading.orderbook import services
from trading.orderbook.errors import INVALID_REDUCE, ORDER_NOT_OPEN, TOO_MANY_OPEN_ORDERS
from trading.orderbook.sql import engine_orders_write_sql
from trading.settlement.outbox import enqueue_after_commit

log = logging.getLogger(__name__)

ENGINE_LOCK_CLASS = 1919  # advisory-lock namespace: (ENGINE_LOCK_CLASS, market id) is the market's engine
CHANNEL = "order_engine"  # NOTIFY channel; the payload is the market id
BATCH = 200  # requests taken per batch transaction
LIVE = (OrderStatus.ACCEPTED, OrderStatus.OPEN)


def engine_matched(market_id) -> bool:
    """Whether `market_id` is matched by the engine (else inline, in the placing transaction)."""
    if getattr(settings, "ORDER_MATCHING", "inline") == "engine":
        return True
    try:
        return int(market_id) in set(getattr(settings, "ENGINE_MARKETS", ()) or ())
    except (TypeError, ValueError):
        return False


def engine_for_order(order_id) -> bool:
    """Whether the order's market is matched by the engine (no query while every market is inline)."""
    if getattr(settings, "ORDER_MATCHING", "inline") != "engine" and not getattr(settings, "ENGINE_MARKETS", ()):
        return False
    try:
        order_id = int(order_id)
    except (TypeError, ValueError):
        return False
    if not 0 < order_id <= services.BIGINT_MAX:
        return False
    market_id = Order.objects.filter(pk=order_id).values_list("market_id", flat=True).first()
    return market_id is not None and engine_matched(market_id)


# --- accepting ----------------------------------------------------------------------------------------

def _market_read(market_id) -> Market:
    try:
        market_id = int(market_id)
    except (TypeError, ValueError):
        market_id = 0
    market = None
    if 0 < market_id <= services.BIGINT_MAX:
        # FOR KEY SHARE of the market row, first: the order's and request's foreign keys take it anyway,
        # but Django's are deferred to commit, i.e. after the hold's account locks — the reverse of the
        # engine's market → accounts order, a deadlock. Taken first, acceptances never block each other.
        with connection.cursor() as cur:
            cur.execute(f"SELECT 1 FROM {Market._meta.db_table} WHERE id = %s FOR KEY SHARE", [market_id])
            if cur.fetchone() is not None:
                market = Market.objects.select_related("asset").get(pk=market_id)
    if market is None:
        raise DomainError(market_errors.UNKNOWN_MARKET)
    return market


def _wake(market_id: int) -> None:
    """NOTIFY the engines at commit; with `settings.ENGINE_EAGER` (tests, the console's demo) run the
    market's engine in this process after commit instead."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_notify(%s, %s)", [CHANNEL, str(market_id)])
    if getattr(settings, "ENGINE_EAGER", False):
        transaction.on_commit(lambda: drain(market_id))


def done_channel(market_id) -> str:
    """The channel on which a market's engine NOTIFYs each batch, delivered at its commit: the API's
    `Prefer: wait` listens on it (`trading.orderbook.waiting`)."""
    return f"{CHANNEL}_done_{int(market_id)}"


def _request(order: Order, kind: str, actor: Actor, new_remaining: int | None = None) -> OrderRequest:
    return OrderRequest.objects.create(market_id=order.market_id, order=order, kind=kind, new_remaining=new_remaining,
                                       user_id=actor.user_id, request_id=(actor.request_id or "")[:64])


@transaction.atomic
def order_accept(*, actor: Actor, organization: Organization, market_id: int, side: str, price: int, quantity: int,
                 time_in_force: str = "gtc", client_order_id: str = "", now: datetime | None = None) -> Order:
    """Accept a limit order for the market's engine: check it, hold its escrow, queue it. The same
    checks as `services.order_place` (at the time of acceptance; the engine re-checks the market's
    state and the organization when it takes the order); the open-order cap counts accepted orders too
    but, without the market lock, two concurrent acceptances may both take the last place."""
    services._check_input(side, price, quantity, time_in_force)
    now = now or timezone.now()
    market = _market_read(market_id)
    windows = None if market.always_open else list(market.session_windows.all())
    market.session_now, _ = market_state_at(market, now, windows)
    services._check_order(market, organization, price, quantity, now)
    cap = getattr(settings, "MAX_OPEN_ORDERS_PER_MARKET", None)
    if cap and Order.objects.filter(organization=organization, market=market, status__in=LIVE)[:cap].count() >= cap:
        raise DomainError(TOO_MANY_OPEN_ORDERS, cap=cap)
    rule_version, _ = services._rule_check(stage="order", market=market, buyer=organization if side == "buy" else None,
                                           seller=organization if side == "sell" else None, price=price,
                                           quantity=quantity, now=now)
    hold = services._buy_hold(market, limit=price, remaining=quantity, filled_value=0) if side == "buy" else quantity
    if hold > services.BIGINT_MAX:
        raise DomainError("validation_error", fields={"quantity": "price × quantity is too large"})
    order = Order.objects.create(
        market=market, organization=organization, user_id=actor.user_id, side=side, time_in_force=time_in_force,
        price=price, quantity=quantity, remaining=quantity, hold_remaining=hold, session=market.session_now or "",
        rule_version=rule_version, client_order_id=client_order_id, status=OrderStatus.ACCEPTED)
    hold_place(actor=actor, organization_id=organization.id, asset=services._hold_asset(market, side),
                        amount=hold, reference=("order", order.id), idempotency_key=f"order:{order.id}:hold")
    _request(order, OrderRequestKind.PLACE, actor)
    audit_record(actor=actor, action="order.place", object_type="order", object_id=order.id,
                 after={"market": market.code, "side": side, "price": price, "quantity": quantity,
                        "time_in_force": time_in_force, "status": order.status},
                 region_codes=[organization.region_id])
    _wake(market.id)
    return order


def _own_live_order(organization: Organization, order_id: int) -> Order:
    order = Order.objects.select_related("market__asset").filter(pk=order_id, organization=organization).first()
    if order is None:
        raise DomainError("not_found")
    if order.status not in LIVE:
        raise DomainError(ORDER_NOT_OPEN, fields={"status": order.status})
    return order


@transaction.atomic
def order_cancel_request(*, actor: Actor, organization: Organization, order_id: int) -> Order:
    """Queue the cancellation of an accepted or open order; the engine releases its escrow."""
    order = _own_live_order(organization, order_id)
    _request(order, OrderRequestKind.CANCEL, actor)
    audit_record(actor=actor, action="order.cancel_request", object_type="order", object_id=order.id,
                 before={"status": order.status, "remaining": order.remaining}, region_codes=[organization.region_id])
    _wake(order.market_id)
    return order


@transaction.atomic
def order_reduce_request(*, actor: Actor, organization: Organization, order_id: int, new_remaining: int) -> Order:
    """Queue a reduction of an order's remaining quantity (checked now against what is known, and again
    by the engine against the book)."""
    order = _own_live_order(organization, order_id)
    if (not isinstance(new_remaining, int) or not 0 < new_remaining < order.remaining
            or new_remaining % order.market.lot_size):
        raise DomainError(INVALID_REDUCE, fields={"remaining": f"between one lot and {order.remaining}, in lots"})
    _request(order, OrderRequestKind.REDUCE, actor, new_remaining=new_remaining)
    audit_record(actor=actor, action="order.reduce_request", object_type="order", object_id=order.id,
                 before={"remaining": order.remaining}, after={"remaining": new_remaining},
                 region_codes=[organization.region_id])
    _wake(order.market_id)
    return order


# --- the engine -----------------------------------------------------------------------------------------

class NotOwner(Exception):
    """This engine's connection does not hold the market's advisory lock: it must not write."""


class Stale(Exception):
    """An order changed behind the engine: roll the batch back and reload the book."""


def _bid_key(o: Order):
    return (-o.price, o.id)


def _ask_key(o: Order):
    return (o.price, o.id)


class Engine:
    """The engine of one market: its book in memory, its batches (see the module docstring)."""

    def __init__(self, market_id: int, *, batch: int = BATCH):
        self.market_id = int(market_id)
        self.batch = batch
        self.bids: list[Order] | None = None
        self.asks: list[Order] | None = None
        self.index: dict[int, Order] = {}
        self.seen: tuple | None = None
        self.owned = False

    # ownership
    def acquire(self) -> bool:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s, %s)", [ENGINE_LOCK_CLASS, self.market_id])
            self.owned = bool(cur.fetchone()[0])
        self.bids = None  # a new owner loads the book
        return self.owned

    def release(self) -> None:
        if self.owned:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", [ENGINE_LOCK_CLASS, self.market_id])
        self.owned = False
        self.bids = None

    def _fence(self) -> None:
        with connection.cursor() as cur:
            cur.execute("""SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
                              AND classid = %s AND objid = %s AND objsubid = 2 AND granted""",
                        [ENGINE_LOCK_CLASS, self.market_id])
            if not cur.fetchone()[0]:
                self.owned = False
                raise NotOwner(self.market_id)

    # the book
    def _load(self, market: Market) -> None:
        orders = list(Order.objects.filter(market_id=self.market_id, status=OrderStatus.OPEN)
                      .select_related("organization").order_by("id"))
        for o in orders:
            o.market = market
        self.bids = sorted((o for o in orders if o.side == "buy"), key=_bid_key)
        self.asks = sorted((o for o in orders if o.side == "sell"), key=_ask_key)
        self.index = {o.id: o for o in orders}
        self.seen = (market.current_session, market.status)

    def _side(self, side: str) -> list[Order]:
        return self.bids if side == "buy" else self.asks

    def _crossing(self, order: Order, scanned: list):
        """The resting orders crossing `order`, best first; counts in `scanned[0]` how far it read."""
        book = self._side("sell" if order.side == "buy" else "buy")
        for i, resting in enumerate(book):
            if (resting.price > order.price) if order.side == "buy" else (resting.price < order.price):
                return
            scanned[0] = i + 1
            yield resting

    def _rest(self, order: Order) -> None:
        book = self._side(order.side)
        bisect.insort(book, order, key=_bid_key if order.side == "buy" else _ask_key)
        self.index[order.id] = order

    def _unrest(self, order: Order) -> None:
        book = self._side(order.side)
        key = _bid_key if order.side == "buy" else _ask_key
        i = bisect.bisect_left(book, key(order), key=key)
        if i < len(book) and book[i] is order:
            del book[i]
        self.index.pop(order.id, None)

    # batches
    def step(self, *, now: datetime | None = None) -> int:
        """Take one batch of the market's requests; returns how many it took (0: none waiting). On any
        failure the batch rolls back and the book is reloaded before the next one."""
        for attempt in (1, 2):
            try:
                with transaction.atomic():
                    return self._step(now or timezone.now())
            except Stale:
                self.bids = None
                if attempt == 2:
                    raise
            except BaseException:
                self.bids = None
                raise
        return 0

    def _step(self, now: datetime) -> int:
        self._fence()
        market = services.market_lock(market_id=self.market_id, now=now, no_key=True)
        if self.bids is None or self.seen != (market.current_session, market.status):
            self._load(market)
        requests = list(OrderRequest.objects.filter(market_id=self.market_id).select_related("order__organization")
                        .order_by("id")[:self.batch])
        if not requests:
            return 0
        # every escrow release of this batch is on a requested order's account: lock them all, in id
        # order, before the first (the lock order of every ledger writer, so no deadlock with settlement)
        services._lock_accounts(market, [r.order for r in requests])
        changed: dict[int, tuple[Order, object]] = {}  # order id -> (order, updated_at it had in the database)
        matched: list[tuple[AuditEvent, list]] = []
        audits: list[AuditEvent] = []
        all_trades = []

        def change(o: Order) -> None:
            changed.setdefault(o.id, (o, o.updated_at))

        for req in requests:
            actor = Actor(user_id=req.user_id, organization_id=req.order.organization_id, role=None,
                          request_id=req.request_id)
            if req.kind == OrderRequestKind.PLACE:
                order = req.order
                if order.status != OrderStatus.ACCEPTED:
                    continue
                order.market = market
                change(order)
                trades, touched = self._place(order, market, now, actor)
                for resting in touched:
                    change(resting)
                all_trades += trades
                event = AuditEvent(
                    actor_user_id=actor.user_id, actor_organization_id=actor.organization_id, action="order.match",
                    object_type="order", object_id=str(order.id), request_id=actor.request_id or "",
                    after={"status": order.status, "remaining": order.remaining, "cancel_reason": order.cancel_reason},
                    region_codes=[order.organization.region_id])
                audits.append(event)
                matched.append((event, trades))
            else:
                order = self.index.get(req.order_id)
                if order is None:  # filled, cancelled or expired before this request's turn
                    audits.append(self._audit(actor, req, "order." + req.kind, req.order, refused=ORDER_NOT_OPEN))
                    continue
                change(order)
                if req.kind == OrderRequestKind.CANCEL:
                    before = {"status": order.status, "remaining": order.remaining}
                    services._close_order(order, market, OrderStatus.CANCELLED, "cancelled_by_owner", actor, save=False)
                    self._unrest(order)
                    audits.append(self._audit(actor, req, "order.cancel", order, before=before))
                else:
                    audits.append(self._reduce(order, market, req, actor))

        if all_trades:
            services._write_trades(market, all_trades)
        for event, trades in matched:  # the trade ids exist now
            event.after["trades"] = [t.id for t in trades]
        self._write_orders([pair for pair in changed.values()], now)
        OrderRequest.objects.filter(pk__in=[r.id for r in requests]).delete()
        AuditEvent.objects.bulk_create(audits)
        enqueue_after_commit([t for t in all_trades if t.status == TradeStatus.MATCHED])
        announce_pending_approval(all_trades)
        with connection.cursor() as cur:  # wakes the waiting answers (`waiting.wait`) when this batch commits
            cur.execute("SELECT pg_notify(%s, '')", [done_channel(self.market_id)])
        return len(requests)

    def _place(self, order: Order, market: Market, now: datetime, actor: Actor) -> tuple[list, list[Order]]:
        organization = order.organization
        try:  # the market and the organization as they are now (the acceptance checked them earlier)
            services._check_order(market, organization, order.price, order.quantity, now)
        except DomainError as refusal:
            services._close_order(order, market, OrderStatus.CANCELLED, f"refused:{refusal.code}"[:40], actor,
                                  save=False)
            return [], []
        order.status = OrderStatus.OPEN
        scanned = [0]
        trades, touched, self_trade = services._cross(order, market, organization, now, self._crossing(order, scanned))
        other = self._side("sell" if order.side == "buy" else "buy")
        if scanned[0]:
            other[:scanned[0]] = [o for o in other[:scanned[0]] if o.status == OrderStatus.OPEN]
        for resting in touched:
            if resting.status != OrderStatus.OPEN:
                self.index.pop(resting.id, None)
        if order.status == OrderStatus.OPEN and order.remaining:
            if self_trade:
                services._close_order(order, market, OrderStatus.CANCELLED, "self_trade_prevented", actor, save=False)
            elif order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                services._close_order(order, market, OrderStatus.CANCELLED, "unfilled_" + order.time_in_force, actor,
                                      save=False)
            else:
                self._rest(order)
        return trades, touched

    def _reduce(self, order: Order, market: Market, req: OrderRequest, actor: Actor) -> AuditEvent:
        new_remaining = req.new_remaining
        if not 0 < new_remaining < order.remaining or new_remaining % market.lot_size:
            return self._audit(actor, req, "order.reduce", order, refused=INVALID_REDUCE)
        before = {"remaining": order.remaining, "hold": order.hold_remaining}
        if order.side == "buy":
            need = services._buy_hold(market, limit=order.price, remaining=new_remaining,
                                      filled_value=order.filled_value)
        else:
            need = new_remaining
        freed = order.hold_remaining - need
        if freed:
            hold_release(actor=actor, organization_id=order.organization_id,
                                  asset=services._hold_asset(market, order.side), amount=freed,
                                  reference=("order", order.id),
                                  idempotency_key=f"order:{order.id}:reduce:{new_remaining}")
        order.quantity -= order.remaining - new_remaining
        order.remaining = new_remaining
        order.hold_remaining = need
        return self._audit(actor, req, "order.reduce", order, before=before)

    @staticmethod
    def _audit(actor: Actor, req: OrderRequest, action: str, order: Order, *, before=None,
               refused: str | None = None) -> AuditEvent:
        after = {"status": order.status, "remaining": order.remaining, "hold": order.hold_remaining}
        if refused:
            after["refused"] = refused
        return AuditEvent(actor_user_id=actor.user_id, actor_organization_id=actor.organization_id, action=action,
                          object_type="order", object_id=str(order.id), request_id=actor.request_id or "",
                          before=before, after=after, region_codes=[order.organization.region_id])

    def _write_orders(self, pairs: list[tuple[Order, object]], now: datetime) -> None:
        """Every changed order in one UPDATE, each guarded by the `updated_at` the engine saw."""
        if not pairs:
            return
        params: list = [now]
        for o, seen in pairs:
            params += [o.id, o.quantity, o.remaining, o.filled_value, o.fees_charged, o.hold_remaining, o.status,
                       o.cancel_reason, seen]
        with connection.cursor() as cur:
            cur.execute(engine_orders_write_sql(len(pairs)), params)
            if cur.rowcount != len(pairs):
                raise Stale("an order changed behind the engine")
        for o, _ in pairs:
            o.updated_at = now


# --- running it ---------------------------------------------------------------------------------------

def drain(market_id: int, *, now: datetime | None = None) -> int:
    """Run the market's engine in this process until its queue is empty (tests, `ENGINE_EAGER`); returns
    how many requests it took, 0 if another engine owns the market."""
    engine = Engine(market_id)
    if not engine.acquire():
        return 0
    total = 0
    try:
        while True:
            n = engine.step(now=now)
            total += n
            if not n:
                return total
    finally:
        engine.release()


def serve(*, markets=None, poll: float = 1.0, stop=None, gather: float = 0.0) -> None:
    """The engine process: own every market with queued requests (or only `markets`, a predicate on the
    market id) whose lock is free, and run their batches; sleep on LISTEN between. `gather`: after a
    batch that was not full, wait that many seconds before the next, so that batches grow (a batch costs
    about the same for one request as for a hundred) at the price of that much latency."""
    engines: dict[int, Engine] = {}
    connection.ensure_connection()
    raw = connection.connection
    with connection.cursor() as cur:
        cur.execute(f"LISTEN {CHANNEL}")
    while stop is None or not stop():
        busy = full = False
        pending = sorted(set(OrderRequest.objects.values_list("market_id", flat=True).distinct()))
        for market_id in pending:
            if markets is not None and not markets(market_id):
                continue
            engine = engines.get(market_id)
            if engine is None or not engine.owned:
                engine = engines[market_id] = Engine(market_id)
                if not engine.acquire():
                    continue
            try:
                taken = engine.step()
                busy |= taken > 0
                full |= taken >= engine.batch
            except NotOwner:
                log.warning("engine lost market %s", market_id)
            except DatabaseError:
                log.exception("engine batch failed for market %s; the book reloads", market_id)
                if not connection.is_usable():
                    return  # the connection (and with it every lock) is gone: the supervisor restarts us
            except Exception:
                log.exception("engine batch failed for market %s; the book reloads", market_id)
        if busy:
            if gather and not full:
                time.sleep(gather)
            continue
        raw.poll()  # a NOTIFY that arrived while this loop was querying is already read off the socket
        if raw.notifies:
            raw.notifies.clear()
            continue
        if select.select([raw], [], [], poll) != ([], [], []):
            raw.poll()
            raw.notifies.clear()
