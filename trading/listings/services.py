"""Listing use cases (挂牌): create, cancel, buy (fixed price), bid (English and sealed auctions), accept
and reject (negotiated transfer, 协议转让), and close (auction award, expiry) — see `listing_models`.

Escrow before exposure
----------------------
Creating a listing holds the seller's rights (`hold_place`, reference ("listing", id)); the listing's
`hold_remaining` is what is still held for it. A purchase, an accepted offer or an auction award moves
part (or all) of that escrow to the trade (`Trade.seller_hold`) and holds the buyer's cash for the trade
(`Trade.buyer_hold` = value + buyer fee, or the winning bid's whole hold); the ledger does not see those
moves. A bid holds its bidder's cash (`Bid.hold`: value at the bid price plus the fee on it). Cancel,
expiry, rejection, being outbid, losing and an unsold close release what is held, in the transaction
that makes the change. So for every organization and asset, at every commit:
    held = Σ open listings' hold_remaining + Σ active bids' hold + Σ unsettled trades' escrow
(a won bid's hold has moved to its trade and is zeroed on the bid).

Locks and time
--------------
Every use case on an existing listing locks its row first (`SELECT … FOR UPDATE`); ledger account locks
come after, so the lock order is listing → accounts (sorted), as market → accounts in the order book.
The time of an action is read from the database clock (`clock_timestamp()`) *after* the lock is held,
unless the caller passes `now` (tests). A bid is accepted only while `now < end_at`; a close happens
only once `end_at <= now`. Because both run under the listing lock, a bid either commits before the
close (and its time is before `end_at`) or sees the closed listing and is refused; the close decides
the winner from the bids' own times (`created_at <= end_at`), so a close that runs late — the Celery
worker was down at the end — awards exactly what an on-time close would have.

Anti-sniping (English): a bid accepted less than `anti_snipe_minutes` before `end_at` moves `end_at`
later by `anti_snipe_minutes`.
Sealed bids: a bidder has one active bid (a new one replaces it, releasing the old hold); ranking is
(amount desc, time asc, id asc); with `second_price` the winner pays the next bid in the ranking, or
the reserve when it is the only bid, and the difference of its hold is returned at settlement.
Amounts of sealed bids appear nowhere in the API or the audit log before the close; the close's audit
event lists them all.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import TRADING_KINDS, Organization
from core import conf
from core.checks import Refused, run
from core.errors import DomainError
from ledger.checks import AssetValid, SufficientBalance
from ledger.errors import NOT_A_RIGHT, UNKNOWN_ASSET
from ledger.models import Asset
from ledger.posting import accounts_lock
from ledger.services import cny, hold_place, hold_release
from marketplace.rules import CheckContext, OrganizationActive, OrganizationMayTrade, Refusal, enforce
from trading.common import pricing
from trading.common.signals import announce_pending_approval, listing_checking
from trading.listings import mechanisms
from trading.listings.checks import (
    PURCHASE_CHECKS,
    BidAtLeastReserve,
    ListingProvenance,
    ListingTerms,
    NotOwnListing,
)
from trading.listings.errors import (
    AUCTION_ENDED,
    AUCTION_NOT_STARTED,
    INVALID_NAMED_BUYER,
    LISTING_ENDED,
    LISTING_HAS_BIDS,
    LISTING_NOT_OPEN,
    LISTING_NOT_STARTED,
    NOT_LISTING_SELLER,
    NOT_NAMED_BUYER,
)
from trading.listings.mechanisms import ACCEPT, BID, BUY, ranking
from trading.models import Bid, BidStatus, Listing, ListingStatus, Trade, TradeEvent, TradeStatus
from trading.settlement.outbox import enqueue_after_commit, outbox_row_for

UNSETTLED_TRADE_STATUSES = ("matched", "pending_approval", "approved", "settling")


def db_now() -> datetime:
    """The database's clock (the one time source for listing deadlines)."""
    with connection.cursor() as cur:
        cur.execute("SELECT clock_timestamp()")
        return cur.fetchone()[0]


def fee_defaults() -> tuple[int, int]:
    return conf.get("LISTING_FEE_BPS"), conf.get("LISTING_FEE_MIN")


# --- checks -------------------------------------------------------------------------------------------

def _active(organization: Organization) -> None:
    OrganizationActive.enforce(organization=organization)  # Q-ACTIVE-001


def _trader(organization: Organization) -> None:
    OrganizationMayTrade.enforce(organization=organization)  # Q-TRADER-001


def _not_expired(asset: Asset, now: datetime) -> None:
    AssetValid.enforce(asset=asset, on=timezone.localdate(now))  # A-VALID-001


def _rules(stage: str, asset: Asset, now: datetime, *, buyer=None, seller=None, price=None,
           quantity=None) -> tuple[int | None, Refusal | None]:
    """Run the rulebook (`enforce`: a refusal that does not merely need approval stops the action)."""
    return enforce(CheckContext(stage=stage, asset=asset, at=now, buyer=buyer, seller=seller, price=price,
                                quantity=quantity))


def _check_provenance(asset: Asset, provenance: dict) -> dict:
    if not isinstance(provenance, dict):
        raise Refused(ListingTerms.refuse(fields={"provenance": "an object"}))
    ListingProvenance.enforce(asset=asset, provenance=provenance)  # C-PROV-001
    return provenance


def _named_buyer(named_buyer_id: int | None, seller: Organization) -> Organization | None:
    if named_buyer_id is None:
        return None
    buyer = Organization.objects.filter(pk=named_buyer_id).first()
    if buyer is None or buyer.pk == seller.pk or not buyer.is_active or buyer.kind not in TRADING_KINDS:
        raise DomainError(INVALID_NAMED_BUYER, fields={"named_buyer": "an active trading organization other than you"})
    return buyer


def _regions(*codes) -> list[str]:
    return list(dict.fromkeys(c for c in codes if c))


# --- create and cancel ----------------------------------------------------------------------------------

@transaction.atomic
def listing_create(*, actor: Actor, seller: Organization, kind: str, asset_id: int, quantity: int,
                   price: int | None = None, reserve_price: int | None = None, min_increment: int | None = None,
                   second_price: bool = False, divisible: bool = False, min_purchase: int | None = None,
                   start_at: datetime | None = None, end_at: datetime | None = None, anti_snipe_minutes: int = 0,
                   named_buyer_id: int | None = None, provenance: dict | None = None, title: str = "",
                   now: datetime | None = None) -> Listing:
    """Post a listing and hold the seller's rights for it."""
    now = now or db_now()
    _active(seller)
    _trader(seller)
    asset = Asset.objects.select_related("right_type").filter(pk=asset_id).first()
    if asset is None:
        raise DomainError(UNKNOWN_ASSET, fields={"asset": str(asset_id)})
    if asset.kind != "right":
        raise DomainError(NOT_A_RIGHT, fields={"asset": asset.code})
    terms = dict(price=price, reserve_price=reserve_price, min_increment=min_increment, second_price=second_price,
                 divisible=divisible, min_purchase=min_purchase, start_at=start_at, end_at=end_at,
                 anti_snipe_minutes=anti_snipe_minutes, named_buyer=named_buyer_id)
    ListingTerms.enforce(mechanism=mechanisms.mechanism_for(kind), terms=terms, quantity=quantity,
                         now=now)  # C-TERMS-001
    _not_expired(asset, now)
    provenance = _check_provenance(asset, provenance or {})
    # the layers above may refuse (the reserve's floor); price is the fixed price or the auction's reserve
    listing_checking.send(sender="trading", seller=seller, asset=asset, kind=kind,
                          price=price if price is not None else reserve_price)
    named_buyer = _named_buyer(named_buyer_id, seller)
    rule_version, _ = _rules("listing", asset, now, seller=seller, buyer=named_buyer,
                             price=price if price is not None else reserve_price, quantity=quantity)
    fee_bps, fee_min = fee_defaults()
    listing = Listing.objects.create(
        kind=kind, seller=seller, created_by_id=actor.user_id, asset_id=asset.id, quantity=quantity,
        remaining=quantity, divisible=divisible, min_purchase=min_purchase, price=price, reserve_price=reserve_price,
        min_increment=min_increment, second_price=second_price, start_at=start_at or now, end_at=end_at,
        anti_snipe_minutes=anti_snipe_minutes or 0, named_buyer=named_buyer, hold_remaining=quantity,
        provenance=provenance, title=title, rule_version=rule_version, fee_bps=fee_bps, fee_min=fee_min)
    hold_place(actor=actor, organization_id=seller.id, asset=asset, amount=quantity, reference=("listing", listing.id),
               idempotency_key=f"listing:{listing.id}:hold")
    audit_record(actor=actor, action="listing.create", object_type="listing", object_id=listing.id,
                 after={"kind": kind, "asset": asset.code, "quantity": quantity, "price": price,
                        "reserve_price": reserve_price, "min_increment": min_increment, "second_price": second_price,
                        "divisible": divisible, "min_purchase": min_purchase, "start_at": listing.start_at,
                        "end_at": end_at, "anti_snipe_minutes": listing.anti_snipe_minutes,
                        "named_buyer": named_buyer_id, "provenance": provenance, "rule_version": rule_version},
                 region_codes=_regions(seller.region_id, asset.origin_region_id))
    return listing


def _lock(listing_id: int) -> Listing:
    listing = (Listing.objects.select_for_update(of=("self",)).select_related("seller")
               .filter(pk=listing_id).first())
    if listing is None:
        raise DomainError("not_found")
    return listing


def _asset(listing: Listing) -> Asset:
    return Asset.objects.get(pk=listing.asset_id)


def _release_listing(listing: Listing, asset: Asset, actor: Actor, status: str, now: datetime) -> None:
    """End an open listing, giving back the rights still held for it."""
    if listing.hold_remaining:
        hold_release(actor=actor, organization_id=listing.seller_id, asset=asset, amount=listing.hold_remaining,
                     reference=("listing", listing.id), idempotency_key=f"listing:{listing.id}:release")
    listing.hold_remaining = 0
    listing.status = status
    listing.closed_at = now
    listing.save(update_fields=["hold_remaining", "status", "closed_at"])


def _release_bid(bid: Bid, status: str, actor: Actor) -> None:
    if bid.hold:
        hold_release(actor=actor, organization_id=bid.bidder_id, asset=cny(), amount=bid.hold,
                     reference=("listing", bid.listing_id), idempotency_key=f"bid:{bid.id}:release")
    bid.hold = 0
    bid.status = status
    bid.save(update_fields=["hold", "status"])


@transaction.atomic
def listing_cancel(*, actor: Actor, organization: Organization, listing_id: int,
                   now: datetime | None = None) -> Listing:
    """The seller withdraws an open listing (an auction only while it has no bids)."""
    listing = _lock(listing_id)
    now = now or db_now()
    if listing.seller_id != organization.id:
        raise DomainError(NOT_LISTING_SELLER)
    if listing.status != ListingStatus.OPEN:
        raise DomainError(LISTING_NOT_OPEN)
    if not mechanisms.of(listing).cancellable(listing):
        raise DomainError(LISTING_HAS_BIDS)
    before = {"status": listing.status, "remaining": listing.remaining, "held": listing.hold_remaining}
    asset = _asset(listing)
    _release_listing(listing, asset, actor, ListingStatus.CANCELLED, now)
    audit_record(actor=actor, action="listing.cancel", object_type="listing", object_id=listing.id, before=before,
                 after={"status": listing.status},
                 region_codes=_regions(organization.region_id, asset.origin_region_id))
    return listing


# --- trades from listings -----------------------------------------------------------------------------

def _trade(*, listing: Listing, asset: Asset, buyer: Organization, price: int, quantity: int,
           seller_hold: int, buyer_hold: int | None, aggressor: str, rule_version: int | None,
           pending: bool) -> Trade:
    """Write a listing trade with its event and (when it may settle now) its settlement-outbox row."""
    value = pricing.trade_value(price, quantity, asset.scale)
    buyer_fee = pricing.total_fee(value, bps=listing.fee_bps, minimum=listing.fee_min)
    seller_fee = min(pricing.total_fee(value, bps=listing.fee_bps, minimum=listing.fee_min), value)
    trade = Trade.objects.create(
        market=None, asset_id=listing.asset_id, source=mechanisms.of(listing).trade_source, listing_id=listing.id,
        buyer=buyer, seller_id=listing.seller_id, price=price, quantity=quantity, value=value, buyer_fee=buyer_fee,
        seller_fee=seller_fee, buyer_hold=value + buyer_fee if buyer_hold is None else buyer_hold,
        seller_hold=seller_hold, aggressor=aggressor, rule_version=rule_version,
        status=TradeStatus.PENDING_APPROVAL if pending else TradeStatus.MATCHED)
    TradeEvent.objects.create(trade=trade, status=trade.status, detail={"source": trade.source, "listing": listing.id})
    if trade.status == TradeStatus.MATCHED:
        outbox_row_for(trade, None).save()
    return trade


def _check_cap(amount: int) -> None:
    SufficientBalance.enforce(amount=amount)  # A-FUNDS-001: more than any balance


def _hold_for_trade(actor: Actor, trade: Trade, listing: Listing) -> None:
    _check_cap(trade.buyer_hold)
    hold_place(actor=actor, organization_id=trade.buyer_id, asset=cny(), amount=trade.buyer_hold,
               reference=("listing", listing.id), idempotency_key=f"listing:{listing.id}:trade:{trade.id}:hold")


def _audit_trade(actor: Actor, action: str, listing: Listing, trade: Trade, buyer: Organization, asset: Asset,
                 **extra) -> None:
    audit_record(actor=actor, action=action, object_type="listing", object_id=listing.id,
                 after={"trade": trade.id, "buyer": buyer.id, "price": trade.price, "quantity": trade.quantity,
                        "value": trade.value, "status": trade.status, "listing_status": listing.status,
                        "remaining": listing.remaining, **extra},
                 region_codes=_regions(listing.seller.region_id, buyer.region_id, asset.origin_region_id))


@dataclass
class PurchaseResult:
    listing: Listing
    trade: Trade


@transaction.atomic
def listing_buy(*, actor: Actor, buyer: Organization, listing_id: int, quantity: int,
                now: datetime | None = None) -> PurchaseResult:
    """Take all or (when divisible) part of a fixed-price listing: one trade, escrowed both sides."""
    listing = _lock(listing_id)
    now = now or db_now()
    mechanisms.of(listing).allow(listing, BUY)
    if listing.status != ListingStatus.OPEN:
        raise DomainError(LISTING_NOT_OPEN)
    _active(buyer)
    _trader(buyer)
    NotOwnListing.enforce(listing=listing, organization=buyer)  # C-OWN-001
    if listing.start_at and now < listing.start_at:
        raise DomainError(LISTING_NOT_STARTED)
    if listing.end_at and now >= listing.end_at:
        raise DomainError(LISTING_ENDED)
    asset = _asset(listing)
    _not_expired(asset, now)
    if not isinstance(quantity, int) or quantity <= 0:
        raise DomainError("validation_error", fields={"quantity": "must be positive"})
    run(PURCHASE_CHECKS, listing=listing, quantity=quantity)  # C-QTY-001..003
    rule_version, refusal = _rules("trade", asset, now, buyer=buyer, seller=listing.seller, price=listing.price,
                                   quantity=quantity)
    trade = _trade(listing=listing, asset=asset, buyer=buyer, price=listing.price, quantity=quantity,
                   seller_hold=quantity, buyer_hold=None, aggressor="buy", rule_version=rule_version,
                   pending=bool(refusal))
    _hold_for_trade(actor, trade, listing)
    listing.remaining -= quantity
    listing.hold_remaining -= quantity
    fields = ["remaining", "hold_remaining"]
    if listing.remaining == 0:
        listing.status, listing.closed_at = ListingStatus.CLOSED, now
        fields += ["status", "closed_at"]
    listing.save(update_fields=fields)
    _audit_trade(actor, "listing.buy", listing, trade, buyer, asset)
    if trade.status == TradeStatus.MATCHED:
        enqueue_after_commit([trade])
    announce_pending_approval([trade])
    return PurchaseResult(listing=listing, trade=trade)


@transaction.atomic
def listing_accept(*, actor: Actor, buyer: Organization, listing_id: int,
                   now: datetime | None = None) -> PurchaseResult:
    """The named buyer accepts a negotiated transfer: its cash is held and the trade is written."""
    listing = _lock(listing_id)
    now = now or db_now()
    _negotiated_party_check(listing, buyer, now)
    asset = _asset(listing)
    _not_expired(asset, now)
    rule_version, refusal = _rules("trade", asset, now, buyer=buyer, seller=listing.seller, price=listing.price,
                                   quantity=listing.remaining)
    trade = _trade(listing=listing, asset=asset, buyer=buyer, price=listing.price, quantity=listing.remaining,
                   seller_hold=listing.hold_remaining, buyer_hold=None, aggressor="buy", rule_version=rule_version,
                   pending=bool(refusal))
    _hold_for_trade(actor, trade, listing)
    listing.remaining = listing.hold_remaining = 0
    listing.status, listing.closed_at = ListingStatus.CLOSED, now
    listing.save(update_fields=["remaining", "hold_remaining", "status", "closed_at"])
    _audit_trade(actor, "listing.accept", listing, trade, buyer, asset)
    if trade.status == TradeStatus.MATCHED:
        enqueue_after_commit([trade])
    announce_pending_approval([trade])
    return PurchaseResult(listing=listing, trade=trade)


def _negotiated_party_check(listing: Listing, buyer: Organization, now: datetime) -> None:
    mechanisms.of(listing).allow(listing, ACCEPT)
    if listing.named_buyer_id != buyer.id:
        raise DomainError(NOT_NAMED_BUYER)
    if listing.status != ListingStatus.OPEN:
        raise DomainError(LISTING_NOT_OPEN)
    _active(buyer)
    if listing.end_at and now >= listing.end_at:
        raise DomainError(LISTING_ENDED)


@transaction.atomic
def listing_reject(*, actor: Actor, buyer: Organization, listing_id: int, reason: str = "",
                   now: datetime | None = None) -> Listing:
    """The named buyer declines a negotiated transfer: the seller's rights are released."""
    listing = _lock(listing_id)
    now = now or db_now()
    _negotiated_party_check(listing, buyer, now)
    asset = _asset(listing)
    _release_listing(listing, asset, actor, ListingStatus.REJECTED, now)
    audit_record(actor=actor, action="listing.reject", object_type="listing", object_id=listing.id,
                 before={"status": ListingStatus.OPEN}, after={"status": listing.status, "reason": reason[:200]},
                 region_codes=_regions(listing.seller.region_id, buyer.region_id, asset.origin_region_id))
    return listing


# --- bidding --------------------------------------------------------------------------------------------

def bid_hold(listing: Listing, amount: int, scale: int) -> int:
    """Cash escrowed for a bid of `amount` per unit on the whole lot: its value plus the fee on it."""
    value = pricing.trade_value(amount, listing.quantity, scale)
    return value + pricing.total_fee(value, bps=listing.fee_bps, minimum=listing.fee_min)


@dataclass
class BidResult:
    bid: Bid
    listing: Listing
    extended: bool = False


@transaction.atomic
def listing_bid(*, actor: Actor, bidder: Organization, listing_id: int, amount: int,
                now: datetime | None = None) -> BidResult:
    """Bid `amount` (fen per unit, for the whole lot) in an English or sealed auction."""
    listing = _lock(listing_id)
    now = now or db_now()
    auction = mechanisms.of(listing)
    auction.allow(listing, BID)
    if listing.status != ListingStatus.OPEN:
        raise DomainError(AUCTION_ENDED if listing.status in (ListingStatus.CLOSED, ListingStatus.UNSOLD,
                                                           ListingStatus.EXPIRED) else LISTING_NOT_OPEN)
    _active(bidder)
    _trader(bidder)
    NotOwnListing.enforce(listing=listing, organization=bidder)  # C-OWN-001
    if listing.start_at and now < listing.start_at:
        raise DomainError(AUCTION_NOT_STARTED)
    if now >= listing.end_at:
        raise DomainError(AUCTION_ENDED)
    asset = _asset(listing)
    _not_expired(asset, now)
    if not isinstance(amount, int) or amount <= 0:
        raise DomainError("validation_error", fields={"price": "must be positive"})
    BidAtLeastReserve.enforce(listing=listing, amount=amount)  # C-BID-001
    previous = auction.previous_bid(listing, bidder, amount)  # English: the best bid, beaten (C-BID-002)
    rule_version, _ = _rules("bid", asset, now, buyer=bidder, seller=listing.seller, price=amount,
                             quantity=listing.quantity)
    hold = bid_hold(listing, amount, asset.scale)
    _check_cap(hold)
    if previous is not None and previous.bidder_id != bidder.id:
        # two postings on two accounts (release the outbid, hold the new): lock both at once, in id order
        accounts_lock([(previous.bidder_id, cny().id, "participant"), (bidder.id, cny().id, "participant")])
    if previous is not None:  # outbid (English) or replaced by its own bidder (sealed): release first
        _release_bid(previous, auction.replaced_status, actor)
    bid = Bid.objects.create(listing=listing, bidder=bidder, user_id=actor.user_id, amount=amount,
                             quantity=listing.quantity, hold=hold, status=BidStatus.ACTIVE, rule_version=rule_version,
                             created_at=now)
    hold_place(actor=actor, organization_id=bidder.id, asset=cny(), amount=hold, reference=("listing", listing.id),
               idempotency_key=f"bid:{bid.id}:hold")
    before_end = listing.end_at
    extended = auction.extend(listing, now)  # English anti-sniping
    # a sealed bid's amount is recorded at the close, not before
    after = {"bid": bid.id, "listing_kind": listing.kind, "rule_version": rule_version,
             **auction.bid_audit(amount, previous)}
    if extended:
        after |= {"end_at_before": before_end, "end_at": listing.end_at}
    audit_record(actor=actor, action="listing.bid", object_type="listing", object_id=listing.id, after=after,
                 region_codes=_regions(bidder.region_id, listing.seller.region_id, asset.origin_region_id))
    return BidResult(bid=bid, listing=listing, extended=extended)


# --- closing --------------------------------------------------------------------------------------------

def listing_ids_due(now: datetime, limit: int = 200) -> list[int]:
    """Open listings whose end has passed (auctions to award, offers and fixed-price listings to expire)."""
    return list(Listing.objects.filter(status=ListingStatus.OPEN, end_at__lte=now).order_by("end_at", "id")
                .values_list("id", flat=True)[:limit])


@transaction.atomic
def listing_close(*, listing_id: int, now: datetime | None = None, actor: Actor | None = None) -> Listing:
    """Close one listing whose end has passed: award an auction (or close it unsold), expire the rest.
    A no-op for a listing that is not open or not yet due, so running it twice is harmless."""
    actor = actor or Actor.system()
    listing = _lock(listing_id)
    now = now or db_now()
    if listing.status != ListingStatus.OPEN or listing.end_at is None or listing.end_at > now:
        return listing
    asset = _asset(listing)
    mechanism = mechanisms.of(listing)
    if mechanism.awards_on_close:
        _award(listing, mechanism, asset, actor, now)
    else:
        before = {"status": listing.status, "remaining": listing.remaining}
        _release_listing(listing, asset, actor, ListingStatus.EXPIRED, now)
        audit_record(actor=actor, action="listing.expire", object_type="listing", object_id=listing.id, before=before,
                     after={"status": listing.status}, region_codes=_regions(listing.seller.region_id,
                                                                            asset.origin_region_id))
    return listing


def _award(listing: Listing, auction: mechanisms.Auction, asset: Asset, actor: Actor, now: datetime) -> None:
    bids = list(ranking(listing).select_for_update(of=("self",)).select_related("bidder"))
    in_time = [b for b in bids if b.created_at <= listing.end_at]  # always all of them; kept as the rule
    winner, trade, skipped = None, None, []
    if not asset.is_expired(timezone.localdate(now)):
        for i, bid in enumerate(in_time):
            if not bid.bidder.is_active:  # platform invariant: a frozen organization never wins
                skipped.append({"bid": bid.id, "rule": "organization_suspended"})
                continue
            try:
                version, refusal = _rules("trade", asset, now, buyer=bid.bidder, seller=listing.seller,
                                          price=bid.amount, quantity=listing.quantity)
            except Refused as stop:
                skipped.append({"bid": bid.id, "rule": stop.code})
                continue
            price = auction.award_price(listing, in_time, i)
            winner = bid
            trade = _trade(listing=listing, asset=asset, buyer=bid.bidder, price=price, quantity=listing.remaining,
                           seller_hold=listing.hold_remaining, buyer_hold=bid.hold, aggressor="",
                           rule_version=version, pending=bool(refusal))
            break
    for bid in bids:
        if bid is winner:
            bid.status, bid.hold = BidStatus.WON, 0  # its escrow now belongs to the trade
            bid.save(update_fields=["status", "hold"])
        else:
            _release_bid(bid, BidStatus.LOST, actor)
    before = {"status": listing.status, "end_at": listing.end_at}
    if trade is not None:
        listing.remaining = listing.hold_remaining = 0
        listing.status, listing.closed_at = ListingStatus.CLOSED, now
        listing.save(update_fields=["remaining", "hold_remaining", "status", "closed_at"])
    else:
        expired = asset.is_expired(timezone.localdate(now))
        _release_listing(listing, asset, actor, ListingStatus.EXPIRED if expired else ListingStatus.UNSOLD, now)
    all_bids = list(Bid.objects.filter(listing=listing).order_by("id").values("id", "bidder_id", "amount", "created_at",
                                                                              "status"))
    audit_record(actor=actor, action="listing.close", object_type="listing", object_id=listing.id, before=before,
                 after={"status": listing.status, "winner_bid": winner.id if winner else None,
                        "trade": trade.id if trade else None, "price": trade.price if trade else None,
                        "skipped": skipped, "bids": all_bids},
                 region_codes=_regions(listing.seller.region_id, asset.origin_region_id,
                                       winner.bidder.region_id if winner else None))
    if trade is not None and trade.status == TradeStatus.MATCHED:
        enqueue_after_commit([trade])
    if trade is not None:
        announce_pending_approval([trade])


# --- reads used by the API and tests --------------------------------------------------------------------

def listing_trades(listing: Listing):
    return Trade.objects.filter(listing_id=listing.id).order_by("id")


def sealed_bids_hidden(listing: Listing) -> bool:
    """Bid amounts may not be shown yet (a sealed auction before its close)."""
    return not mechanisms.of(listing).bids_visible(listing) and listing.status == ListingStatus.OPEN


def exposure(organization_id: int, asset_id: int) -> int:
    """What an organization should hold of an asset for listings: open listings, active bids and
    unsettled listing trades (orders and order-book trades not included), for invariant checks."""

    cny_id = cny().id
    total = 0
    if asset_id == cny_id:
        total += Bid.objects.filter(bidder_id=organization_id, status=BidStatus.ACTIVE).aggregate(
            s=Sum("hold"))["s"] or 0
        total += Trade.objects.filter(buyer_id=organization_id, listing_id__isnull=False,
                                      status__in=UNSETTLED_TRADE_STATUSES).aggregate(
            s=Sum("buyer_hold"))["s"] or 0
    else:
        total += Listing.objects.filter(seller_id=organization_id, asset_id=asset_id,
                                        status=ListingStatus.OPEN).aggregate(s=Sum("hold_remaining"))["s"] or 0
        total += Trade.objects.filter(seller_id=organization_id, asset_id=asset_id, listing_id__isnull=False,
                                      status__in=UNSETTLED_TRADE_STATUSES).aggregate(s=Sum("seller_hold"))["s"] or 0
    return total


__all__ = ["listing_create", "listing_cancel", "listing_buy", "listing_accept", "listing_reject", "listing_bid",
           "listing_close", "listing_ids_due", "db_now", "exposure", "bid_hold"]
