"""Listings (挂牌) of lots that are not standardized, and bids on them.

Design overview
---------------
A `Listing` offers `quantity` of one instrument by one seller, escrowed in the ledger for as long as
the listing is open (`hold_remaining`). Four kinds share the model:
  fixed_price   buyers take all or part (when `divisible`) at `price`, first come first served;
  english       ascending auction: `reserve_price`, `min_increment`, `start_at`..`end_at`, anti-sniping
                (a bid in the last `anti_snipe_minutes` extends `end_at` by that much); each bidder's
                cash is held for its best bid and released when outbid;
  sealed        bids invisible to everyone until the close; highest wins, ties by time; optional
                `second_price` (the winner pays the second-highest bid, or the reserve);
  negotiated    协议转让: the seller offers `named_buyer` a `price`; the buyer accepts or rejects
                before `end_at`.
Prices are fen per whole unit; quantities are the asset's minor units. A bid's `amount` is its price
per unit; its `hold` is the cash escrowed for it (value at that price plus the maximum fee).
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy

from accounts.models import Organization, User


class ListingKind(models.TextChoices):
    FIXED_PRICE = "fixed_price", "Fixed price"
    ENGLISH = "english", "English auction"
    SEALED = "sealed", "Sealed bid"
    NEGOTIATED = "negotiated", "Negotiated transfer"


class ListingStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"  # sold out, or auction awarded
    UNSOLD = "unsold", "Closed without a sale"
    CANCELLED = "cancelled", "Cancelled"
    REJECTED = "rejected", "Rejected by the named buyer"
    EXPIRED = "expired", "Expired"


class Listing(models.Model):
    kind = models.CharField(max_length=12, choices=ListingKind.choices)
    seller = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="listings")
    created_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    asset_id = models.BigIntegerField(db_index=True)
    quantity = models.BigIntegerField()
    remaining = models.BigIntegerField()
    divisible = models.BooleanField(default=False)
    min_purchase = models.BigIntegerField(null=True, blank=True)
    price = models.BigIntegerField(null=True, blank=True, help_text="fixed/negotiated price, fen per unit")
    reserve_price = models.BigIntegerField(null=True, blank=True)
    min_increment = models.BigIntegerField(null=True, blank=True)
    second_price = models.BooleanField(default=False)
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    anti_snipe_minutes = models.PositiveIntegerField(default=0)
    named_buyer = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="offers_received")
    hold_remaining = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=ListingStatus.choices, default=ListingStatus.OPEN, db_index=True)
    provenance = models.JSONField(default=dict, blank=True)
    title = models.CharField(max_length=200, blank=True)
    rule_version = models.PositiveIntegerField(null=True)
    fee_bps = models.PositiveIntegerField(default=0)
    fee_min = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("listing")
        verbose_name_plural = gettext_lazy("listings")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0) & Q(remaining__gte=0) &
                                   Q(remaining__lte=models.F("quantity")), name="listing_quantity_range"),
            models.CheckConstraint(condition=Q(hold_remaining__gte=0), name="listing_hold_non_negative"),
            models.CheckConstraint(condition=Q(status="open") | Q(hold_remaining=0),
                                   name="listing_closed_holds_nothing"),
            models.CheckConstraint(condition=~Q(named_buyer=models.F("seller")), name="listing_not_to_self"),
        ]
        indexes = [models.Index(fields=["end_at"], name="listing_open_end", condition=Q(status="open"))]


class BidStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    OUTBID = "outbid", "Outbid"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Bid(models.Model):
    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="bids")
    bidder = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="bids")
    user = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField(help_text="price per unit, fen")
    quantity = models.BigIntegerField()
    hold = models.BigIntegerField(help_text="cash escrowed for this bid, fen")
    status = models.CharField(max_length=10, choices=BidStatus.choices, default=BidStatus.ACTIVE)
    rule_version = models.PositiveIntegerField(null=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = gettext_lazy("bid")
        verbose_name_plural = gettext_lazy("bids")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0) & Q(quantity__gt=0), name="bid_positive"),
            models.CheckConstraint(condition=Q(status="active") | Q(status="won") | Q(hold=0),
                                   name="bid_inactive_holds_nothing"),
        ]
        indexes = [models.Index(fields=["listing", "-amount", "created_at"], name="bid_ranking",
                                condition=Q(status="active"))]
