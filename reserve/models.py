"""The government reserve (收储).

Design overview
---------------
* `Designation`: the data "which government body holds the reserve of which right type", with an
  optional guided-price floor for reserve sales (fen per whole unit). The operator proposes one and a
  second person of the operator confirms it (four eyes); at most one designation per right type is
  active (a partial unique index), a newly confirmed one supersedes the old.
* The reserve account of a right type is the designated body's participant account for each instrument
  of that type: what the reserve holds is a ledger balance like any other, nothing is kept beside it.
* `BuybackNotice`: a public buy-back at a fixed price for a quantity of one instrument. Opening it holds
  the whole cash (price × quantity, rounded up once) in the reserve body's account; `Tender`s are paid
  from that escrow, first come first served; closing it releases what is left.
* `Release`: a reserve sale, posted through the ordinary listing mechanisms (fixed price or auction);
  the floor in force is recorded beside the listing.
Buy-backs from listings use the ordinary buying path (the body buys like any participant); the
regulators' reserve view lists those trades as reserve purchases too.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Organization
from ledger.models import Asset, RightType


class DesignationStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed (awaits a second person)"
    ACTIVE = "active", "Active"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Superseded"


class Designation(models.Model):
    right_type = models.ForeignKey(RightType, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="reserve_designations")
    floor_price = models.BigIntegerField(null=True, blank=True, help_text="guided-price floor, fen per unit")
    status = models.CharField(max_length=10, choices=DesignationStatus.choices, default=DesignationStatus.PROPOSED)
    note = models.CharField(max_length=200, blank=True)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["right_type"], condition=Q(status="active"),
                                    name="reserve_one_active_per_right_type"),
            models.CheckConstraint(condition=Q(floor_price__isnull=True) | Q(floor_price__gt=0),
                                   name="reserve_floor_positive"),
            models.CheckConstraint(condition=Q(status="proposed") | Q(decided_at__isnull=False),
                                   name="reserve_decided_has_time"),
            models.CheckConstraint(condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("proposed_by")),
                                   name="reserve_four_eyes"),
        ]


class NoticeStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class BuybackNotice(models.Model):
    designation = models.ForeignKey(Designation, on_delete=models.PROTECT, related_name="notices")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    price = models.BigIntegerField(help_text="fen per whole unit")
    quantity = models.BigIntegerField(help_text="asset minor units")
    remaining = models.BigIntegerField()
    held = models.BigIntegerField(help_text="fen escrowed at opening: price × quantity, rounded up once")
    paid = models.BigIntegerField(default=0)
    status = models.CharField(max_length=8, choices=NoticeStatus.choices, default=NoticeStatus.OPEN)
    title = models.CharField(max_length=200, blank=True)
    hold_transaction_id = models.BigIntegerField()
    release_transaction_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0) & Q(quantity__gt=0) & Q(remaining__gte=0)
                                   & Q(remaining__lte=models.F("quantity")) & Q(paid__gte=0)
                                   & Q(paid__lte=models.F("held")), name="reserve_notice_amounts"),
            models.CheckConstraint(condition=Q(status="closed") | Q(remaining__gt=0),
                                   name="reserve_open_has_remaining"),
        ]


class Tender(models.Model):
    notice = models.ForeignKey(BuybackNotice, on_delete=models.PROTECT, related_name="tenders")
    holder = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    quantity = models.BigIntegerField()
    value = models.BigIntegerField(help_text="fen paid from the notice's escrow")
    ledger_transaction_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0) & Q(value__gte=0),
                                              name="reserve_tender_positive")]


class Release(models.Model):
    designation = models.ForeignKey(Designation, on_delete=models.PROTECT, related_name="releases")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    listing_id = models.BigIntegerField(unique=True)
    kind = models.CharField(max_length=12)
    quantity = models.BigIntegerField()
    price = models.BigIntegerField(help_text="fixed price, or the auction's reserve price, fen per unit")
    floor_price = models.BigIntegerField(null=True, blank=True, help_text="the floor in force when released")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(floor_price__isnull=True) | Q(price__gte=models.F(
            "floor_price")), name="reserve_release_not_below_floor")]
