"""Listing mechanisms (挂牌方式), registered like the rules: fixed price, English auction, sealed-bid
auction and negotiated transfer (协议转让). Each is a small class that says which terms it requires and
accepts, which actions it allows (buy, bid, accept/reject), how a new bid meets the previous one, how
its close ends it (award the best admissible bid, or expire), the trade source of its trades, and who
sees its bids. `MECHANISMS` maps `Listing.kind` to its mechanism — the one place the use cases in
`trading.listings.services` ask; a new mechanism (a Dutch or a call auction) is a class here plus its `ListingKind`.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from core.checks import Refusal, Refused
from trading.listings.checks import BidBeatsBest, ListingTerms
from trading.listings.errors import WRONG_LISTING_KIND
from trading.models import Bid, BidStatus, Listing, ListingKind, ListingStatus, TradeSource

BUY, BID, ACCEPT = "buy", "bid", "accept"  # what a participant can do to someone else's listing


def ranking(listing: Listing):
    """Active bids, best first: amount desc, then time, then id."""
    return Bid.objects.filter(listing=listing, status=BidStatus.ACTIVE).order_by("-amount", "created_at", "id")


class ListingMechanism:
    kind: str = ""
    trade_source: str = ""
    required: frozenset[str] = frozenset()  # terms it needs
    optional: frozenset[str] = frozenset()  # terms it accepts besides; any other term is refused
    actions: frozenset[str] = frozenset()
    private = False  # only the seller and the named buyer see the listing
    awards_on_close = False  # its close picks a winner among bids (else what is left expires)

    def allow(self, listing: Listing, action: str) -> None:
        """Refuse (`wrong_listing_kind`) an action this mechanism does not have."""
        if action not in self.actions:
            raise Refused(Refusal(code=WRONG_LISTING_KIND, fields={"kind": listing.kind}))

    def cancellable(self, listing: Listing) -> bool:
        """Whether the seller may still withdraw the open listing."""
        return True

    def bids_visible(self, listing: Listing) -> bool:
        """Whether bid amounts (the best bid, the bid list) may be shown to participants now."""
        return False

    def visible_bids(self, listing: Listing, organization_id: int):
        """The bids an organization may list, in display order."""
        return Bid.objects.none()


class Auction(ListingMechanism):
    trade_source = TradeSource.AUCTION
    actions = frozenset({BID})
    awards_on_close = True
    replaced_status = BidStatus.OUTBID  # what a bid the new one replaces becomes

    def cancellable(self, listing):
        return not listing.bids.exists()

    def previous_bid(self, listing: Listing, bidder, amount: int) -> Bid | None:  # pragma: no cover
        """The active bid the new one replaces (locked), after checking the new one against it."""
        raise NotImplementedError

    def extend(self, listing: Listing, now: datetime) -> bool:
        """Move the end after a late bid (anti-sniping); True when it moved."""
        return False

    def bid_audit(self, amount: int, previous: Bid | None) -> dict:
        """What the bid's audit event may record before the close."""
        return {}

    def award_price(self, listing: Listing, in_time: list[Bid], i: int) -> int:
        """The price the winner `in_time[i]` pays."""
        return in_time[i].amount


MECHANISMS: dict[str, ListingMechanism] = {}


def mechanism(cls: type[ListingMechanism]) -> type[ListingMechanism]:
    """Register a mechanism (class decorator) under its `kind`."""
    MECHANISMS[cls.kind] = cls()
    return cls


def mechanism_for(kind: str) -> ListingMechanism:
    """The mechanism of a listing kind; an unknown kind is invalid listing terms (C-TERMS-001)."""
    found = MECHANISMS.get(kind)
    if found is None:
        raise Refused(ListingTerms.refuse(fields={"kind": f"one of {', '.join(sorted(MECHANISMS))}"}))
    return found


def of(listing: Listing) -> ListingMechanism:
    return MECHANISMS[listing.kind]


@mechanism
class FixedPrice(ListingMechanism):
    """Buyers take all or (when `divisible`, at least `min_purchase`) part of the lot at `price`, first
    come first served, between `start_at` and `end_at` (both optional)."""

    kind = ListingKind.FIXED_PRICE
    trade_source = TradeSource.LISTING
    required = frozenset({"price"})
    optional = frozenset({"divisible", "min_purchase", "start_at", "end_at"})
    actions = frozenset({BUY})


@mechanism
class English(Auction):
    """Ascending auction: bids from `reserve_price` up, each beating the best by `min_increment`; the
    outbid bidder's cash is released; a bid in the last `anti_snipe_minutes` moves `end_at` later by
    that much. Bids are public."""

    kind = ListingKind.ENGLISH
    required = frozenset({"reserve_price", "min_increment", "end_at"})
    optional = frozenset({"start_at", "anti_snipe_minutes"})

    def previous_bid(self, listing, bidder, amount):
        best = ranking(listing).select_for_update().first()
        BidBeatsBest.enforce(listing=listing, amount=amount, best=best)  # C-BID-002
        return best

    def extend(self, listing, now):
        minutes = listing.anti_snipe_minutes
        if minutes and listing.end_at - now < timedelta(minutes=minutes):
            listing.end_at = listing.end_at + timedelta(minutes=minutes)
            listing.save(update_fields=["end_at"])
            return True
        return False

    def bid_audit(self, amount, previous):
        return {"amount": amount, "outbid": previous.id if previous else None}

    def bids_visible(self, listing):
        return True

    def visible_bids(self, listing, organization_id):
        return Bid.objects.filter(listing=listing).order_by("-amount", "created_at", "id")


@mechanism
class Sealed(Auction):
    """Sealed bids: invisible to everyone (amounts appear nowhere, the audit log included) until the
    close; a bidder has one active bid, a new one replaces it. Highest wins, ties by time; with
    `second_price` the winner pays the next bid in the ranking, or the reserve when it is alone."""

    kind = ListingKind.SEALED
    required = frozenset({"reserve_price", "end_at"})
    optional = frozenset({"start_at", "second_price"})
    replaced_status = BidStatus.WITHDRAWN

    def previous_bid(self, listing, bidder, amount):
        return ranking(listing).filter(bidder=bidder).select_for_update().first()

    def award_price(self, listing, in_time, i):
        if listing.second_price:
            return in_time[i + 1].amount if i + 1 < len(in_time) else listing.reserve_price
        return in_time[i].amount

    def bids_visible(self, listing):
        return listing.status != ListingStatus.OPEN

    def visible_bids(self, listing, organization_id):
        bids = Bid.objects.filter(listing=listing)
        if listing.status == ListingStatus.OPEN:  # sealed until the close, for everyone
            return bids.filter(bidder_id=organization_id).order_by("-id")
        return bids.order_by("-amount", "created_at", "id")


@mechanism
class Negotiated(ListingMechanism):
    """协议转让: the seller offers `named_buyer` the whole lot at `price`; the named buyer accepts or
    rejects before `end_at`. Only the two parties see it."""

    kind = ListingKind.NEGOTIATED
    trade_source = TradeSource.NEGOTIATED
    required = frozenset({"price", "named_buyer", "end_at"})
    actions = frozenset({ACCEPT})
    private = True


def private_kinds() -> list[str]:
    return [k for k, m in MECHANISMS.items() if m.private]
