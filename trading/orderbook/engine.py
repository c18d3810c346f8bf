"""The sequenced matching engine of a market (issue #19), behind the switch `settings.ORDER_MATCHING`
(`inline`, the default: `services.order_place` matches inside the placing transaction; `engine`: every
market) and `settings.ENGINE_MARKETS` (market ids matched by the engine while the default is inline).

Accept: `order_accept` checks the order (input, the market's fixed checks at the time of acceptance,
the rulebook's order stage) and makes two round trips before the commit: the market read (FOR KEY
SHARE, so acceptances of one market run in parallel, with the transaction advisory lock of the
organization's open-order cap in that market) and ONE statement (`sql.ACCEPT`, data-modifying CTEs)
that counts the cap, writes the order (status `accepted`), its escrow hold (the ledger transaction and
postings `hold_place` would write; the balance trigger and CHECK constraints enforce it), its
`OrderRequest` (the market's queue), its audit event and the idempotency record with the response,
and wakes the engine (`pg_notify`, delivered at commit). `order_cancel_request` and
`order_reduce_request` queue requests of the same kind (ordinary ORM writes: they are rare).

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
their events, every changed order in one UPDATE, the requests deleted, the settlements, the audit
events. No ledger write happens while matching: once the batch knows its escrow releases and its trades,
it locks every account they post to in one statement, in id order (the lock order of every ledger
writer), then posts. Every order UPDATE is guarded by the `updated_at` the engine last saw: an order changed
behind the engine (an inline cancel, a suspension pulling orders) makes the batch roll back and the
book reload. A crash anywhere loses nothing: the requests are still queued and the book reloads from
what committed.

Time priority is the order id (given at acceptance), in memory and on reload alike, so a reload
rebuilds exactly the book the engine had.

Settlement (delivery versus payment) happens in the batch: every MATCHED trade of a real-time market
whose settlement checks pass (`settlement.settlement_clear`: the rulebook's settlement stage neither
refuses nor asks approval, both parties active) is settled from the escrow its orders hold by one
ledger transaction per trade (`settlement.settle_write`, the statement `trade_settle` runs: key
`settle:trade:<id>`, postings in account id order) and gets no outbox row, so the sweeper never sends it
and a stray `trade_settle` finds it SETTLED. Trades pending approval, trades of end-of-day markets and
trades whose checks do not pass go to the outbox as before. A batch whose settlement statement fails
(a short escrow: impossible unless something else is wrong) is taken again at once without settling
in it. `settings.ENGINE_SETTLE = False` sends every trade to the outbox.
"""
from __future__ import annotations

import bisect
import json
import logging
import select
import time
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import AuditEvent, Organization
from accounts.sql import AUDIT_EVENTS_INSERT, audit_params
from core.errors import DomainError
from core.idempotency import NO_CLAIM_PARAMS, Claim
from ledger.errors import INSUFFICIENT_BALANCE
from ledger.posting import AVAILABLE, HELD, Leg, accounts_lock, journal_params
from ledger.services import account_id, cny, hold_release
from marketplace import errors as market_errors
from marketplace.models import Market
from marketplace.sessions import market_state_at
from trading.common.signals import announce_pending_approval
from trading.models import Order, OrderRequest, OrderRequestKind, OrderStatus, TimeInForce, TradeStatus
from trading.notifications.services import notify_trade_events
from trading.orderbook import services
from trading.orderbook.errors import INVALID_REDUCE, ORDER_NOT_OPEN, TOO_MANY_OPEN_ORDERS
from trading.orderbook.sql import (
    ACCEPT,
    MARKET_ACCEPT,
    QUEUED_MARKETS,
    REQUESTS,
    REQUESTS_DONE,
    engine_orders_write_sql,
)
from trading.settlement import services as settlement
from trading.settlement.outbox import enqueue_after_commit, is_deferred

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

CAP_LOCK_CLASS = 1920  # advisory-lock namespace of the open-order cap (one bigint key per market and organization)


def cap_lock_key(market_id: int, organization_id: int) -> int:
    """The bigint key of the (market, organization) pair's cap lock: the class in the top 16 bits, 24
    bits of each id (two pairs sharing a key only serialize with each other, harmlessly)."""
    return (CAP_LOCK_CLASS << 48) | ((market_id & 0xFFFFFF) << 24) | (organization_id & 0xFFFFFF)


def _market_read(market_id, organization_id: int) -> Market:
    """The market FOR KEY SHARE with its instrument and the rulebook generation, and the cap lock of the
    pair: one statement (`sql.MARKET_ACCEPT`). The row lock comes before any other lock of the
    acceptance (the order's foreign key would take it anyway, at the write), so acceptances take market →
    accounts as the engine does; KEY SHARE never waits for other acceptances or the engine's batch."""
    try:
        market_id = int(market_id)
    except (TypeError, ValueError):
        market_id = 0
    loaded = None
    if 0 < market_id <= services.BIGINT_MAX:
        loaded = MARKET_ACCEPT.one(market=market_id, cap_key=cap_lock_key(market_id, organization_id))
    if loaded is None:
        raise DomainError(market_errors.UNKNOWN_MARKET)
    market = loaded[0]
    market.rules_generation = loaded.extra["rules_generation"]
    return market


def _wake(market_id: int) -> None:
    """NOTIFY the engines at commit; with `settings.ENGINE_EAGER` (tests, the console's demo) run the
    market's engine in this process after commit instead."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_notify(%s, %s)", [CHANNEL, str(market_id)])
    _eager(market_id)


def _eager(market_id: int) -> None:
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
                 time_in_force: str = "gtc", client_order_id: str = "", now: datetime | None = None,
                 claim: Claim | None = None, respond=None) -> Order | None:
    """Accept a limit order for the market's engine: check it, hold its escrow, queue it. The same
    checks as `services.order_place` (at the time of acceptance; the engine re-checks the market's
    state and the organization when it takes the order). Two statements: the market read (which takes
    the open-order cap's lock of the pair, so concurrent acceptances of one organization in one market
    count one after the other) and ONE write (`sql.ACCEPT`: the order, its hold's ledger transaction
    and postings, its request, its audit event, the idempotency record of `claim` with the response
    `respond(order)` gives, the engine's wake-up). Returns the order, or None when `claim`'s key was
    taken by an earlier request (nothing was written; the caller replays the stored response)."""
    services._check_input(side, price, quantity, time_in_force)
    now = now or timezone.now()
    market = _market_read(market_id, organization.id)
    windows = None if market.always_open else list(market.session_windows.all())
    market.session_now, _ = market_state_at(market, now, windows)
    services._check_order(market, organization, price, quantity, now)  # A-VALID-001 of the hold's asset too
    rule_version, _ = services._rule_check(stage="order", market=market, buyer=organization if side == "buy" else None,
                                           seller=organization if side == "sell" else None, price=price,
                                           quantity=quantity, now=now)
    hold = services._buy_hold(market, limit=price, remaining=quantity, filled_value=0) if side == "buy" else quantity
    if hold > services.BIGINT_MAX:
        raise DomainError("validation_error", fields={"quantity": "price × quantity is too large"})
    stamp = timezone.now()
    order = Order(market=market, organization=organization, user_id=actor.user_id, side=side,
                  time_in_force=time_in_force, price=price, quantity=quantity, remaining=quantity, filled_value=0,
                  fees_charged=0, hold_remaining=hold, status=OrderStatus.ACCEPTED, cancel_reason="",
                  session=market.session_now or "", rule_version=rule_version, client_order_id=client_order_id,
                  created_at=stamp, updated_at=stamp)
    asset = services._hold_asset(market, side)
    account = account_id(organization.id, asset.id)
    cap = getattr(settings, "MAX_OPEN_ORDERS_PER_MARKET", None) or None
    params = {
        "cap": cap, "organization": organization.id, "market": market.id, "now": stamp, "user": actor.user_id,
        "side": side, "time_in_force": time_in_force, "price": price, "quantity": quantity, "hold": hold,
        "session": order.session, "rule_version": rule_version, "client_order_id": client_order_id,
        "channel": CHANNEL,
        **(claim.params(202, respond(order)) if claim is not None else NO_CLAIM_PARAMS),
        # the hold as `ledger.services.hold_place` writes it (its key and reference drawn in the statement)
        **journal_params(kind="hold", idempotency_key="", actor=actor, reference=("order", ""),
                         request={"account": account, "amount": hold},
                         legs=[Leg(account, AVAILABLE, -hold), Leg(account, HELD, hold)], assets=[asset.id, asset.id]),
        **audit_params(actor=actor, at=stamp, object_type="order", object_id="", region_codes=[organization.region_id]),
        "audit_request_id": (actor.request_id or "")[:64],
        "audit_after": json.dumps({"market": market.code, "side": side, "price": price, "quantity": quantity,
                                   "time_in_force": time_in_force, "status": OrderStatus.ACCEPTED.value}),
    }
    try:
        with connection.cursor() as cur:
            ACCEPT.execute(cur, params)
            allowed, order_id, _ = cur.fetchone()
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) == "account_non_negative":
            raise DomainError(INSUFFICIENT_BALANCE) from None  # the statement, and so the transaction, failed
        raise
    if not allowed:
        raise DomainError(TOO_MANY_OPEN_ORDERS, cap=cap)
    if order_id is None:
        return None  # the idempotency key is taken: nothing written
    order.id = order.pk = order_id
    order._state.adding = False
    _eager(market.id)
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


class _SettleFailed(Exception):
    """The batch's settlement statement failed (its transaction is aborted): take the batch again without
    settling in it."""


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
        self.operator_id: int | None = None
        # the batch's escrow releases (organization, asset, amount, order id, actor, ledger key), posted once
        # its accounts are locked
        self.releases: list[tuple] = []

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
        self.operator_id = settlement.operator_organization_id()

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
        failure the batch rolls back and the book is reloaded before the next one. A batch whose
        settlement failed (a short escrow: impossible unless something else is wrong) is taken again at
        once with its trades left to the outbox, where `trade_settle` fails them with an alert."""
        settle = getattr(settings, "ENGINE_SETTLE", True)
        for attempt in (1, 2):
            try:
                with transaction.atomic():
                    return self._step(now or timezone.now(), settle=settle)
            except Stale:
                self.bids = None
                if attempt == 2:
                    raise
            except _SettleFailed:
                log.exception("in-batch settlement failed on market %s; the batch goes again via the outbox",
                              self.market_id)
                self.bids = None
                settle = False
            except BaseException:
                self.bids = None
                raise
            finally:
                self.releases = []
        return 0

    def _step(self, now: datetime, *, settle: bool = True) -> int:
        self._fence()
        market = services.market_lock(market_id=self.market_id, now=now, no_key=True)
        if self.bids is None or self.seen != (market.current_session, market.status):
            self._load(market)
        requests = [loaded[0] for loaded in REQUESTS.all(market=self.market_id, batch=self.batch)]
        if not requests:
            return 0
        # matching is in memory; no ledger write happens before every account the batch posts to is
        # locked, at once, in id order (below)
        self.releases = []
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
                    self._close(order, market, OrderStatus.CANCELLED, "cancelled_by_owner", actor)
                    self._unrest(order)
                    audits.append(self._audit(actor, req, "order.cancel", order, before=before))
                else:
                    audits.append(self._reduce(order, market, req, actor))

        matched_now = [t for t in all_trades if t.status == TradeStatus.MATCHED]
        settle_now = self._settle_now(market, matched_now, now) if settle else []
        keys = [(o, a.id, "participant") for o, a, *_ in self.releases]
        for trade in settle_now:
            keys += settlement.settle_accounts(trade, asset=trade.asset)
        if keys:
            # every account this batch posts to (escrow releases and settlements), locked in one statement
            # in id order, before the first posting: the lock order of every ledger writer, so a batch
            # cannot deadlock with a settlement worker, another market's engine or an inline placement
            accounts_lock(keys)
        for org, asset, amount, order_id, actor, key in self.releases:
            hold_release(actor=actor, organization_id=org, asset=asset, amount=amount, reference=("order", order_id),
                         idempotency_key=key)
        if all_trades:
            services._write_trades(market, all_trades, settled_now=frozenset(id(t) for t in settle_now))
        for event, trades in matched:  # the trade ids exist now
            event.after["trades"] = [t.id for t in trades]
        self._write_orders([pair for pair in changed.values()], now)
        with connection.cursor() as cur:
            REQUESTS_DONE.execute(cur, {"ids": [r.id for r in requests]})
        if settle_now:
            # delivery versus payment from the escrow the orders hold, in this transaction: one ledger
            # transaction per trade (`settlement.settle_write`: the statement `trade_settle` runs, key
            # `settle:trade:<id>`), no outbox row, so nothing sends these trades to settlement again
            notify_trade_events(settle_now, "matched")
            actor = Actor.system()
            try:
                for trade in settle_now:
                    settlement.settle_write(trade, asset=trade.asset, actor=actor, now=now)
            except (DatabaseError, settlement.EscrowShort) as exc:
                raise _SettleFailed(str(exc)) from exc
        AUDIT_EVENTS_INSERT.insert(audits)
        enqueue_after_commit([t for t in matched_now if t.status == TradeStatus.MATCHED])
        announce_pending_approval(all_trades)
        with connection.cursor() as cur:  # wakes the waiting answers (`waiting.wait`) when this batch commits
            cur.execute("SELECT pg_notify(%s, '')", [done_channel(self.market_id)])
        return len(requests)

    def _settle_now(self, market: Market, trades: list, now: datetime) -> list:
        """The matched trades this batch settles itself: those of a real-time market whose settlement
        checks pass now (`settlement.settlement_clear`); the rest (end-of-day markets, trades the
        settlement stage refuses or sends for approval, a frozen party) go to the outbox as before."""
        if not trades or is_deferred(market):
            return []
        if self.operator_id is None and any(t.buyer_fee + t.seller_fee for t in trades):
            return []  # no operator to take the fees: trade_settle reports it
        asset = settlement.traded_asset(market.asset_id)
        cny_id = cny().id
        chosen = []
        for trade in trades:
            trade.asset, trade.cny_id, trade.operator_id = asset, cny_id, self.operator_id
            trade.rules_generation = getattr(market, "rules_generation", None)
            if settlement.settlement_clear(trade, asset=asset, now=now):
                chosen.append(trade)
        return chosen

    def _close(self, order: Order, market: Market, status: str, reason: str, actor: Actor) -> None:
        """Cancel or expire an order in memory (`services._close_order`'s effect); its escrow release is
        applied once the batch's accounts are locked."""
        if order.hold_remaining:
            self.releases.append((order.organization_id, services._hold_asset(market, order.side),
                                  order.hold_remaining, order.id, actor,
                                  f"order:{order.id}:release:{order.hold_remaining}:{order.remaining}"))
        order.hold_remaining = 0
        order.status = status
        order.cancel_reason = reason

    def _place(self, order: Order, market: Market, now: datetime, actor: Actor) -> tuple[list, list[Order]]:
        organization = order.organization
        try:  # the market and the organization as they are now (the acceptance checked them earlier)
            services._check_order(market, organization, order.price, order.quantity, now)
        except DomainError as refusal:
            self._close(order, market, OrderStatus.CANCELLED, f"refused:{refusal.code}"[:40], actor)
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
                self._close(order, market, OrderStatus.CANCELLED, "self_trade_prevented", actor)
            elif order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                self._close(order, market, OrderStatus.CANCELLED, "unfilled_" + order.time_in_force, actor)
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
            self.releases.append((order.organization_id, services._hold_asset(market, order.side), freed,
                                  order.id, actor, f"order:{order.id}:reduce:{new_remaining}"))
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
        with connection.cursor() as cur:
            QUEUED_MARKETS.execute(cur)
            pending = sorted(market_id for (market_id,) in cur.fetchall())
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
