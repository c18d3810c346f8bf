"""Package bids (组合竞买): `package_place`, one all-or-nothing purchase over several order-book markets and
fixed-price listings, escrowed as one and settled as one ledger transaction.

The matching rule: immediate-or-cancel, evaluated once, as a whole
-----------------------------------------------------------------------
A package is evaluated when it is placed, never rests, and is never re-evaluated later. Why not a resting
package that waits for asks: a resting all-or-nothing order over several books would have to hold every
involved market's lock (or re-take them all) whenever any of its markets changes, turning independent
markets into one serialized unit, and it would sit in front of ordinary bids without a price-time place
of its own; no exchange we studied runs one. Immediate evaluation keeps "serialize per market" intact and
gives the buyer a clear answer at once; a buyer who wants to wait simply places the package again.

Under the locks (below), leg by leg in the order given:
  * a market leg buys its quantity from the resting asks, best price first then oldest, each at the
    resting ask's own price, up to the leg's limit price; asks of the buyer's own organization and of
    frozen organizations are passed over (the order book's self-trade prevention would cancel the rest;
    an all-or-nothing package passes over instead), and so is an ask the rulebook's trade stage refuses
    for this pair, as in the order book. The market's fixed checks (halted, session, tick, lot, minimum,
    band, valid instrument: `ORDER_CHECKS`) and the order-stage rules apply to the leg as to an order at
    its limit price;
  * a listing leg buys its quantity from an open fixed-price listing at the listing's price, which must
    not exceed the leg's limit (when given), with the listing's own checks (started, not ended, not one's
    own, remaining, indivisible, minimum purchase: `PURCHASE_CHECKS`) and the trade-stage rules;
  * the total paid (values plus buyer fees) must not exceed `total_limit` when given.
Every fill also passes the settlement-stage rules and the party checks, because a package settles at
once. If any of this fails — or if any fill would need a regulator's approval or a public notice (a trade
that waits cannot be part of an atomic settlement; such legs are refused, the package does not wait) —
nothing is bought: the evaluation runs in a savepoint that is rolled back, the escrow is released in
full, and the package is recorded `unfilled` with the reason and the failing leg.

Escrow and settlement
---------------------
Before evaluating, one ledger transaction holds the package's whole cash exposure: Σ over the legs of
the most each can cost (a market leg at its limit price plus the fee on that; a listing leg at the
listing's price plus its fee), capped by `total_limit`. A filled package is then settled by ONE ledger
transaction, delivery versus payment for every leg: the buyer's held cash goes out (its unused part back
to available), each seller's held rights go to the buyer, each seller receives the value less its fee
(a government seller of an earmarked right type into its earmarked fund, as in `trade_settle`), and the
fees go to the operator's fee income. Each fill is also an ordinary `Trade` (order-book trades name the
leg's own FOK order, filled; listing trades the listing) recorded SETTLED with that ledger transaction,
so the parties' trade lists, the regulators' exports and surveillance see them like any other trade.

Locks: per market, in a fixed global order, never a global lock
-----------------------------------------------------------------
First every involved market row, in ascending id, then every involved listing row, in ascending id, then
(through the ledger) the accounts in id order. Everything else takes at most one market or one listing
and then accounts, so this order cannot deadlock with order placement, listing purchases, settlement or
another package (`tests/packages/test_concurrency.py`). The rows are locked plainly first and only then
rolled into the current session (which may expire day orders and so lock accounts), so no account lock is
held while waiting for a market.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import AuditEvent, Organization
from core.checks import run
from core.errors import DomainError
from ledger.checks import AssetValid, SufficientBalance
from ledger.models import AccountKind, Asset
from ledger.posting import AVAILABLE, HELD, Leg, accounts_ensure, post
from ledger.services import cny, hold_place, hold_release
from marketplace.models import Market
from marketplace.rules import ORDER_CHECKS, CheckContext, OrganizationActive, OrganizationMayTrade, Refused, enforce
from trading.common import pricing
from trading.listings import mechanisms
from trading.listings.checks import PURCHASE_CHECKS, NotOwnListing
from trading.listings.errors import LISTING_ENDED, LISTING_NOT_OPEN, LISTING_NOT_STARTED
from trading.listings.mechanisms import BUY
from trading.models import (
    Listing,
    ListingStatus,
    Order,
    OrderStatus,
    Package,
    PackageLeg,
    PackageStatus,
    TimeInForce,
    Trade,
    TradeEvent,
    TradeSource,
    TradeStatus,
)
from trading.notifications.services import notify_trade_events
from trading.orderbook.services import market_lock
from trading.packages.errors import (
    INVALID_PACKAGE,
    LEG_ABOVE_LIMIT,
    LEG_NEEDS_APPROVAL,
    LEG_NOT_FILLABLE,
    OVER_TOTAL_LIMIT,
    PACKAGE_TOO_LARGE,
    PACKAGE_UNBOUNDED,
)
from trading.settlement.routing import settlement_shard
from trading.settlement.services import _proceeds_kind, operator_organization_id

MAX_LEGS = 10
BIGINT_MAX = 2**63 - 1


@dataclass
class LegSpec:
    """One requested leg: exactly one of `market_id` / `listing_id`; amounts in minor units."""
    quantity: int
    market_id: int | None = None
    listing_id: int | None = None
    limit_price: int | None = None


@dataclass
class _Fill:
    leg: int
    asset: Asset
    seller: Organization
    price: int
    quantity: int
    value: int
    buyer_fee: int
    seller_fee: int
    market: Market | None = None
    sell_order: Order | None = None
    listing: Listing | None = None
    rule_version: int | None = None


@dataclass
class _Plan:
    fills: list[_Fill] = field(default_factory=list)
    resting: list[Order] = field(default_factory=list)   # resting sell orders changed (written on success)


class _Unfilled(Exception):
    def __init__(self, code: str, leg: int | None = None):
        super().__init__(code)
        self.code, self.leg = code, leg


# --- input ---------------------------------------------------------------------------------------------

def _check_legs(legs: list[LegSpec], total_limit: int | None) -> None:
    if not legs:
        raise DomainError(INVALID_PACKAGE, fields={"legs": "at least one leg"})
    if len(legs) > MAX_LEGS:
        raise DomainError(PACKAGE_TOO_LARGE, limit=MAX_LEGS, fields={"legs": f"at most {MAX_LEGS}"})
    seen = set()
    for n, leg in enumerate(legs):
        target = ("market", leg.market_id) if leg.market_id is not None else ("listing", leg.listing_id)
        if (leg.market_id is None) == (leg.listing_id is None) or target in seen:
            raise DomainError(INVALID_PACKAGE, fields={f"legs[{n}]": "exactly one market or listing, not repeated"})
        seen.add(target)
        for name, value in (("quantity", leg.quantity), ("limit_price", leg.limit_price)):
            if value is None and name == "limit_price":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= BIGINT_MAX:
                raise DomainError("validation_error", fields={f"legs[{n}].{name}": "a positive amount"})
        if leg.market_id is not None and leg.limit_price is None:
            raise DomainError(PACKAGE_UNBOUNDED, fields={f"legs[{n}].limit_price": "required for a market leg"})
    if total_limit is not None and (not isinstance(total_limit, int) or not 0 < total_limit <= BIGINT_MAX):
        raise DomainError("validation_error", fields={"total_limit": "a positive amount"})


# --- locks ---------------------------------------------------------------------------------------------

def _lock_all(legs: list[LegSpec], now: datetime) -> tuple[dict[int, Market], dict[int, Listing]]:
    """Markets in id order, then listings in id order (the fixed global order); then roll the markets."""
    market_ids = sorted({leg.market_id for leg in legs if leg.market_id is not None})
    listing_ids = sorted({leg.listing_id for leg in legs if leg.listing_id is not None})
    for market_id in market_ids:
        if not Market.objects.select_for_update().filter(pk=market_id).exists():
            raise DomainError("unknown_market", fields={"market": str(market_id)})
    listings = {}
    for listing_id in listing_ids:
        listing = Listing.objects.select_for_update(of=("self",)).select_related("seller").filter(pk=listing_id).first()
        if listing is None:
            raise DomainError("not_found", fields={"listing": str(listing_id)})
        listings[listing_id] = listing
    markets = {market_id: market_lock(market_id=market_id, now=now) for market_id in market_ids}
    return markets, listings


# --- the escrow ------------------------------------------------------------------------------------------

def _leg_cap(leg: LegSpec, markets: dict[int, Market], listings: dict[int, Listing]) -> int:
    """The most a leg can cost, fees included (what its share of the escrow covers)."""
    if leg.market_id is not None:
        m = markets[leg.market_id]
        return pricing.buy_hold_needed(limit=leg.limit_price, remaining=leg.quantity, filled_value=0,
                                       scale=m.asset.scale, bps=m.fee_bps, minimum=m.fee_min)
    listing = listings[leg.listing_id]
    price = listing.price or 0
    if not price:
        return 0  # not a fixed-price listing: the leg fails at evaluation
    scale = Asset.objects.values_list("scale", flat=True).get(pk=listing.asset_id)
    value = pricing.trade_value(price, leg.quantity, scale)
    return value + pricing.total_fee(value, bps=listing.fee_bps, minimum=listing.fee_min)


# --- evaluation ------------------------------------------------------------------------------------------

def _rules(stage: str, asset: Asset, now: datetime, *, buyer, seller, price: int, quantity: int,
           generation=None):
    return enforce(CheckContext(stage=stage, asset=asset, at=now, buyer=buyer, seller=seller, price=price,
                                quantity=quantity, rules_generation=generation))


def _settleable(fill: _Fill, buyer: Organization, now: datetime) -> None:
    """The settlement-stage rules and the party invariant, now (a package settles at once)."""
    _, refusal = _rules("settlement", fill.asset, now, buyer=buyer, seller=fill.seller, price=fill.price,
                        quantity=fill.quantity)
    if refusal:
        raise _Unfilled(LEG_NEEDS_APPROVAL, fill.leg)
    if not (buyer.is_active and fill.seller.is_active):
        raise _Unfilled("organization_suspended", fill.leg)


def _market_leg(n: int, leg: LegSpec, market: Market, buyer: Organization, now: datetime, plan: _Plan) -> None:
    run(ORDER_CHECKS, market=market, price=leg.limit_price, quantity=leg.quantity, now=now)  # M-*, A-VALID-001
    generation = getattr(market, "rules_generation", None)
    _rules("order", market.asset, now, buyer=buyer, seller=None, price=leg.limit_price, quantity=leg.quantity,
           generation=generation)
    remaining, filled_value, fees = leg.quantity, 0, 0
    asks = (Order.objects.select_related("organization")
            .filter(market=market, side="sell", status=OrderStatus.OPEN, price__lte=leg.limit_price)
            .order_by("price", "id"))
    for resting in asks.iterator(chunk_size=64):
        if remaining == 0:
            break
        if resting.organization_id == buyer.id or not resting.organization.is_active:
            continue
        quantity = min(remaining, resting.remaining)
        try:
            version, refusal = _rules("trade", market.asset, now, buyer=buyer, seller=resting.organization,
                                      price=resting.price, quantity=quantity, generation=generation)
        except Refused:
            continue  # this pair may not trade; the asks behind it still may
        if refusal:
            raise _Unfilled(LEG_NEEDS_APPROVAL, n)
        value = pricing.trade_value(resting.price, quantity, market.asset.scale)
        fee_args = dict(bps=market.fee_bps, minimum=market.fee_min)
        buyer_fee = pricing.total_fee(filled_value + value, **fee_args) - fees
        seller_fee = min(pricing.total_fee(resting.filled_value + value, **fee_args) - resting.fees_charged, value)
        remaining -= quantity
        filled_value += value
        fees += buyer_fee
        resting.remaining -= quantity
        resting.filled_value += value
        resting.fees_charged += seller_fee
        resting.hold_remaining -= quantity
        if resting.remaining == 0:
            resting.status = OrderStatus.FILLED
        plan.resting.append(resting)
        fill = _Fill(leg=n, asset=market.asset, seller=resting.organization, price=resting.price, quantity=quantity,
                     value=value, buyer_fee=buyer_fee, seller_fee=seller_fee, market=market, sell_order=resting,
                     rule_version=version)
        _settleable(fill, buyer, now)
        plan.fills.append(fill)
    if remaining:
        raise _Unfilled(LEG_NOT_FILLABLE, n)


def _listing_leg(n: int, leg: LegSpec, listing: Listing, buyer: Organization, now: datetime, plan: _Plan) -> None:
    mechanisms.of(listing).allow(listing, BUY)  # fixed price only
    if listing.status != ListingStatus.OPEN:
        raise DomainError(LISTING_NOT_OPEN)
    NotOwnListing.enforce(listing=listing, organization=buyer)  # C-OWN-001
    if listing.start_at and now < listing.start_at:
        raise DomainError(LISTING_NOT_STARTED)
    if listing.end_at and now >= listing.end_at:
        raise DomainError(LISTING_ENDED)
    asset = Asset.objects.select_related("right_type").get(pk=listing.asset_id)
    AssetValid.enforce(asset=asset, on=timezone.localdate(now))  # A-VALID-001
    run(PURCHASE_CHECKS, listing=listing, quantity=leg.quantity)  # C-QTY-001..003
    if leg.limit_price is not None and listing.price > leg.limit_price:
        raise _Unfilled(LEG_ABOVE_LIMIT, n)
    version, refusal = _rules("trade", asset, now, buyer=buyer, seller=listing.seller, price=listing.price,
                              quantity=leg.quantity)
    if refusal:
        raise _Unfilled(LEG_NEEDS_APPROVAL, n)
    value = pricing.trade_value(listing.price, leg.quantity, asset.scale)
    fee = pricing.total_fee(value, bps=listing.fee_bps, minimum=listing.fee_min)
    fill = _Fill(leg=n, asset=asset, seller=listing.seller, price=listing.price, quantity=leg.quantity, value=value,
                 buyer_fee=fee, seller_fee=min(fee, value), listing=listing, rule_version=version)
    _settleable(fill, buyer, now)
    listing.remaining -= leg.quantity
    listing.hold_remaining -= leg.quantity
    if listing.remaining == 0:
        listing.status, listing.closed_at = ListingStatus.CLOSED, now
    plan.fills.append(fill)


def _evaluate(legs, markets, listings, buyer, total_limit, now) -> _Plan:
    plan = _Plan()
    for n, leg in enumerate(legs):
        try:
            if leg.market_id is not None:
                _market_leg(n, leg, markets[leg.market_id], buyer, now, plan)
            else:
                _listing_leg(n, leg, listings[leg.listing_id], buyer, now, plan)
        except _Unfilled:
            raise
        except DomainError as refused:  # a check refused the leg (market halted, listing closed, a rule, …)
            raise _Unfilled(refused.code, n) from refused
    if total_limit is not None and sum(f.value + f.buyer_fee for f in plan.fills) > total_limit:
        raise _Unfilled(OVER_TOTAL_LIMIT)
    return plan


# --- settlement: one ledger transaction ----------------------------------------------------------------

def _settle(package: Package, plan: _Plan, buyer: Organization, actor: Actor) -> int:
    cash = cny()
    operator_id = operator_organization_id()
    fees = sum(f.buyer_fee + f.seller_fee for f in plan.fills)
    if fees and operator_id is None:
        raise RuntimeError("no exchange operator organization: fees have nowhere to go")
    keys = {("buyer_cash",): (buyer.id, cash.id, AccountKind.PARTICIPANT)}
    for i, f in enumerate(plan.fills):
        keys[("rights_out", i)] = (f.seller.id, f.asset.id, AccountKind.PARTICIPANT)
        keys[("rights_in", i)] = (buyer.id, f.asset.id, AccountKind.PARTICIPANT)
        keys[("proceeds", i)] = (f.seller.id, cash.id, _proceeds_kind(_SellerView(f.seller), f.asset))
        if f.buyer_fee + f.seller_fee:
            shard = settlement_shard(f.market.id if f.market else None, f.listing.id if f.listing else None)
            keys[("fees", i)] = (operator_id, cash.id, AccountKind.FEE_INCOME, shard)
    ids = accounts_ensure(list(keys.values()))
    acc = {name: ids[key] for name, key in keys.items()}
    paid = sum(f.value + f.buyer_fee for f in plan.fills)
    legs = [Leg(acc[("buyer_cash",)], HELD, -package.held), Leg(acc[("buyer_cash",)], AVAILABLE, package.held - paid)]
    for i, f in enumerate(plan.fills):
        legs += [Leg(acc[("rights_out", i)], HELD, -f.quantity), Leg(acc[("rights_in", i)], AVAILABLE, f.quantity),
                 Leg(acc[("proceeds", i)], AVAILABLE, f.value - f.seller_fee)]
        if ("fees", i) in acc:
            legs.append(Leg(acc[("fees", i)], AVAILABLE, f.buyer_fee + f.seller_fee))
    posted = post(kind="settle", idempotency_key=f"settle:package:{package.id}", actor=actor,
                  reference=("package", package.id),
                  request={"package": package.id, "paid": paid, "fills": len(plan.fills)},
                  memo={"buyer": buyer.id, "fills": [[f.leg, f.seller.id, f.asset.id, f.price, f.quantity, f.value,
                                                      f.buyer_fee, f.seller_fee] for f in plan.fills]},
                  legs=legs)
    package.paid = paid
    return posted.transaction_id


class _SellerView:
    """The seller as `_proceeds_kind` reads a trade (`trade.seller.kind`)."""

    def __init__(self, seller: Organization):
        self.seller = seller


def _record_trades(package: Package, plan: _Plan, legs: list[LegSpec], buyer: Organization, actor: Actor,
                   txn_id: int, now: datetime) -> list[Trade]:
    """The fills as ordinary trades, SETTLED by the package's ledger transaction; the legs' FOK orders;
    the resting orders and listings they changed."""
    orders: dict[int, Order] = {}
    for n, leg in enumerate(legs):
        if leg.market_id is None:
            continue
        mine = [f for f in plan.fills if f.leg == n]
        orders[n] = Order.objects.create(
            market=mine[0].market, organization=buyer, user_id=actor.user_id, side="buy",
            time_in_force=TimeInForce.FOK, price=leg.limit_price, quantity=leg.quantity, remaining=0,
            filled_value=sum(f.value for f in mine), fees_charged=sum(f.buyer_fee for f in mine), hold_remaining=0,
            status=OrderStatus.FILLED, session=mine[0].market.session_now or "",
            client_order_id=f"package:{package.id}:{n}")
    trades = []
    for f in plan.fills:
        trades.append(Trade(
            market=f.market, asset_id=f.asset.id,
            source=TradeSource.ORDER_BOOK if f.market else mechanisms.of(f.listing).trade_source,
            buy_order=orders.get(f.leg), sell_order=f.sell_order, listing_id=f.listing.id if f.listing else None,
            buyer=buyer, seller=f.seller, price=f.price, quantity=f.quantity, value=f.value, buyer_fee=f.buyer_fee,
            seller_fee=f.seller_fee, buyer_hold=f.value + f.buyer_fee, seller_hold=f.quantity, aggressor="buy",
            session=(f.market.session_now or "") if f.market else "", rule_version=f.rule_version,
            status=TradeStatus.SETTLED, ledger_transaction_id=txn_id, settled_at=now))
    Trade.objects.bulk_create(trades)
    TradeEvent.objects.bulk_create(
        [TradeEvent(trade=t, status=s, detail={"source": "package", "package": package.id})
         for t in trades for s in (TradeStatus.MATCHED, TradeStatus.SETTLED)])
    AuditEvent.objects.bulk_create([
        AuditEvent(actor_user_id=actor.user_id, actor_organization_id=actor.organization_id, action="trade.settled",
                   object_type="trade", object_id=str(t.id), before={"status": "matched"},
                   after={"status": "settled", "value": t.value, "fees": [t.buyer_fee, t.seller_fee],
                          "package": package.id, "ledger_transaction": txn_id},
                   request_id=actor.request_id or "",
                   region_codes=[r for r in dict.fromkeys((buyer.region_id, t.seller.region_id)) if r])
        for t in trades])
    for order in {o.id: o for o in plan.resting}.values():
        order.save(update_fields=["remaining", "filled_value", "fees_charged", "hold_remaining", "status",
                                  "updated_at"])
    for listing in {f.listing.id: f.listing for f in plan.fills if f.listing}.values():
        listing.save(update_fields=["remaining", "hold_remaining", "status", "closed_at"])
    for n, leg_row in enumerate(package.legs.order_by("position")):
        mine = [t for t, f in zip(trades, plan.fills) if f.leg == n]
        leg_row.filled_quantity = leg_row.quantity
        leg_row.value = sum(t.value for t in mine)
        leg_row.fees = sum(t.buyer_fee for t in mine)
        leg_row.trade_ids = [t.id for t in mine]
        leg_row.order_id = orders[n].id if n in orders else None
        leg_row.save(update_fields=["filled_quantity", "value", "fees", "trade_ids", "order_id"])
    notify_trade_events(trades, "settled")
    return trades


# --- the use case ------------------------------------------------------------------------------------------

@dataclass
class PackageResult:
    package: Package
    trades: list[Trade]


@transaction.atomic
def package_place(*, actor: Actor, buyer: Organization, legs: list[LegSpec], total_limit: int | None = None,
                  client_reference: str = "", now: datetime | None = None) -> PackageResult:
    """Place a package: it fills completely and settles as one ledger transaction, or buys nothing and is
    recorded `unfilled` with its escrow released in full. Bad input is refused before anything is written;
    so is a buyer who cannot cover the escrow (`insufficient_balance`)."""
    _check_legs(legs, total_limit)
    OrganizationActive.enforce(organization=buyer)  # Q-ACTIVE-001
    OrganizationMayTrade.enforce(organization=buyer)  # Q-TRADER-001
    now = now or timezone.now()
    markets, listings = _lock_all(legs, now)
    held = sum(_leg_cap(leg, markets, listings) for leg in legs)
    if total_limit is not None:
        held = min(held, total_limit)
    if held <= 0:
        raise DomainError(INVALID_PACKAGE, fields={"legs": "nothing to buy"})
    SufficientBalance.enforce(amount=held)  # A-FUNDS-001
    package = Package(id=_next_id(), organization=buyer, user_id=actor.user_id, total_limit=total_limit, held=held,
                      client_reference=client_reference)
    hold = hold_place(actor=actor, organization_id=buyer.id, asset=cny(), amount=held,
                      reference=("package", package.id), idempotency_key=f"package:{package.id}:hold")
    package.hold_transaction_id = hold.transaction_id
    trades: list[Trade] = []
    try:
        with transaction.atomic():  # a savepoint: an unfilled package leaves no trace of its evaluation
            plan = _evaluate(legs, markets, listings, buyer, total_limit, now)
            package.settle_transaction_id = _settle(package, plan, buyer, actor)
            package.status = PackageStatus.FILLED
            _write(package, legs, markets, listings)
            trades = _record_trades(package, plan, legs, buyer, actor, package.settle_transaction_id, now)
    except _Unfilled as unfilled:
        released = hold_release(actor=actor, organization_id=buyer.id, asset=cny(), amount=held,
                                reference=("package", package.id), idempotency_key=f"package:{package.id}:release")
        package.status, package.reason, package.failed_leg = PackageStatus.UNFILLED, unfilled.code, unfilled.leg
        package.release_transaction_id, package.paid, package.settle_transaction_id = released.transaction_id, 0, None
        _write(package, legs, markets, listings)
    regions = list(dict.fromkeys(r for r in [buyer.region_id] + [t.seller.region_id for t in trades]
                                 + [m.asset.origin_region_id for m in markets.values()] if r))
    audit_record(actor=actor, action=f"package.{package.status}", object_type="package", object_id=package.id,
                 after={"legs": [{"market": leg.market_id, "listing": leg.listing_id, "quantity": leg.quantity,
                                  "limit_price": leg.limit_price} for leg in legs],
                        "total_limit": total_limit, "held": held, "paid": package.paid, "status": package.status,
                        "reason": package.reason, "failed_leg": package.failed_leg,
                        "trades": [t.id for t in trades], "ledger_transaction": package.settle_transaction_id},
                 region_codes=regions)
    return PackageResult(package=package, trades=trades)


def _next_id() -> int:
    """The package's id, taken from its sequence before the row is written: the escrow's ledger reference
    names it, and the row itself is written once, in its final (filled or unfilled) state."""
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [Package._meta.db_table])
        return cur.fetchone()[0]


def _write(package: Package, legs: list[LegSpec], markets, listings) -> None:
    package.save(force_insert=True)
    PackageLeg.objects.bulk_create([
        PackageLeg(package=package, position=n, market_id=leg.market_id, listing_id=leg.listing_id,
                   asset_id=markets[leg.market_id].asset_id if leg.market_id else listings[leg.listing_id].asset_id,
                   quantity=leg.quantity, limit_price=leg.limit_price) for n, leg in enumerate(legs)])

