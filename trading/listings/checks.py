"""The fixed business checks of listings (numbered in the family of `core.checks`):

  C-TERMS-001  invalid_listing_terms  the terms fit the listing's mechanism (required and accepted
                                      terms, positive prices, minimum purchase, anti-sniping, times)
  C-PROV-001   evidence_required      a listing carries the provenance its right type requires
                                      (`RightType.listing_provenance`)
  C-OWN-001    own_listing            nobody buys or bids on its own listing
  C-QTY-001    exceeds_remaining      a purchase takes at most what is left
  C-QTY-002    listing_indivisible    an indivisible listing is bought whole
  C-QTY-003    below_min_purchase     a purchase is at least the minimum (or all that is left)
  C-BID-001    bid_below_reserve      a bid is at least the reserve price
  C-BID-002    bid_below_increment    an English bid beats the best bid by the minimum increment
"""
from __future__ import annotations

from django.utils.translation import gettext

from core.checks import BusinessCheck, business_check
from core.money import from_minor
from ledger.checks import MAX_AMOUNT
from ledger.errors import EVIDENCE_REQUIRED
from trading.listings.errors import (
    BELOW_MIN_PURCHASE,
    BID_BELOW_INCREMENT,
    BID_BELOW_RESERVE,
    EXCEEDS_REMAINING,
    INVALID_LISTING_TERMS,
    LISTING_INDIVISIBLE,
    OWN_LISTING,
)


@business_check
class ListingTerms(BusinessCheck):
    """A listing's terms fit its mechanism: every term it requires is given, no term it does not accept
    is; prices and increments are positive; a minimum purchase only for a divisible listing and within
    the quantity; anti-sniping 0 to 1440 minutes; the end in the future and after the start."""

    number, code, subject = "C-TERMS-001", INVALID_LISTING_TERMS, "listing"

    @classmethod
    def check(cls, *, mechanism, terms: dict, quantity, now, **_):
        def bad(name, message):
            return cls.refuse(fields={name: message})

        if not isinstance(quantity, int) or quantity <= 0 or quantity >= MAX_AMOUNT:
            return bad("quantity", "must be positive")
        kind = mechanism.kind
        given = {k for k, v in terms.items() if v not in (None, False, 0)}
        for name in sorted(mechanism.required - given):
            return bad(name, f"required for a {kind} listing")
        for name in sorted(given - mechanism.required - mechanism.optional):
            return bad(name, f"does not apply to a {kind} listing")
        for name in ("price", "reserve_price", "min_increment"):
            if terms.get(name) is not None and not 0 < terms[name] < MAX_AMOUNT:
                return bad(name, "must be positive")
        if terms.get("min_purchase") is not None:
            if not terms.get("divisible"):
                return bad("min_purchase", "only for a divisible listing")
            if not 0 < terms["min_purchase"] <= quantity:
                return bad("min_purchase", "between one minor unit and the quantity")
        minutes = terms.get("anti_snipe_minutes") or 0
        if not 0 <= minutes <= 24 * 60:
            return bad("anti_snipe_minutes", "0 to 1440")
        start, end = terms.get("start_at"), terms.get("end_at")
        if end is not None:
            if end <= now:
                return bad("end_at", "must be in the future")
            if start is not None and end <= start:
                return bad("end_at", "must be after start_at")
        return None


@business_check
class ListingProvenance(BusinessCheck):
    """A listing carries every provenance field its right type requires (`RightType.listing_provenance`:
    a farmland quota's reclamation project and acceptance document, emission rights' reduction measure
    and discharge permit)."""

    number, code, subject = "C-PROV-001", EVIDENCE_REQUIRED, "listing"

    @classmethod
    def check(cls, *, asset, provenance: dict, **_):
        required = asset.right_type.listing_provenance or {}
        missing = {f"provenance.{f}": f"required for {asset.right_type_id} listings: {what}"
                   for f, what in required.items() if not str(provenance.get(f) or "").strip()}
        return cls.refuse(fields=missing) if missing else None


@business_check
class NotOwnListing(BusinessCheck):
    """An organization cannot buy or bid on its own listing."""

    number, code, subject = "C-OWN-001", OWN_LISTING, "listing"

    @classmethod
    def check(cls, *, listing, organization, **_):
        return cls.refuse() if listing.seller_id == organization.id else None


@business_check
class WithinRemaining(BusinessCheck):
    """A purchase takes at most what is left of the listing."""

    number, code, subject = "C-QTY-001", EXCEEDS_REMAINING, "listing"

    @classmethod
    def check(cls, *, listing, quantity, **_):
        if quantity > listing.remaining:
            return cls.refuse(fields={"quantity": f"at most {listing.remaining} minor units are left"})
        return None


@business_check
class WholeLotIfIndivisible(BusinessCheck):
    """An indivisible listing is bought whole."""

    number, code, subject = "C-QTY-002", LISTING_INDIVISIBLE, "listing"

    @classmethod
    def check(cls, *, listing, quantity, **_):
        if not listing.divisible and quantity != listing.remaining:
            return cls.refuse(fields={"quantity": "must be the whole lot"})
        return None


@business_check
class MinimumPurchase(BusinessCheck):
    """A purchase is at least the listing's minimum purchase, unless it takes all that is left."""

    number, code, subject = "C-QTY-003", BELOW_MIN_PURCHASE, "listing"

    @classmethod
    def check(cls, *, listing, quantity, **_):
        if listing.min_purchase and quantity < listing.min_purchase and quantity != listing.remaining:
            return cls.refuse(fields={"quantity": f"at least {listing.min_purchase} minor units"})
        return None


PURCHASE_CHECKS = (WithinRemaining, WholeLotIfIndivisible, MinimumPurchase)


@business_check
class BidAtLeastReserve(BusinessCheck):
    """A bid is at least the auction's reserve price."""

    number, code, subject = "C-BID-001", BID_BELOW_RESERVE, "listing"

    @classmethod
    def check(cls, *, listing, amount, **_):
        return cls.refuse(fields={"price": "at least the reserve price"}) if amount < listing.reserve_price else None


@business_check
class BidBeatsBest(BusinessCheck):
    """In an English auction a bid beats the best bid by at least the minimum increment."""

    number, code, subject = "C-BID-002", BID_BELOW_INCREMENT, "listing"

    @classmethod
    def check(cls, *, listing, amount, best, **_):
        if best is not None and amount < best.amount + listing.min_increment:
            return cls.refuse(fields={"price": gettext("at least {minimum} yuan per unit").format(
                minimum=from_minor(best.amount + listing.min_increment, 2))})
        return None
