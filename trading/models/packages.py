"""Package bids (组合竞买): one all-or-nothing purchase over several order-book markets and fixed-price
listings (`trading.packages.services`).

Design overview
---------------
A `Package` is one buyer's request for several rights at once (say 20 t SO2, 15 t NOx and 3,000 tce of
energy-use rights in one city). Each `PackageLeg` names exactly one order-book market (bought from the
resting asks at their prices, up to the leg's limit price) or one fixed-price listing (bought at the
listing's price, at most the leg's limit price when one is given). A package is evaluated once, when it
is placed (immediate-or-cancel): it ends `filled` — every leg bought in full and everything settled in
one ledger transaction — or `unfilled`, with no leg bought at all and its escrow given back in full.
The constraints below make the in-between states impossible to store: a leg's filled quantity is either
zero or its whole quantity, a filled package names its settling ledger transaction, an unfilled one
names none and says why.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy

from accounts.models import Organization
from marketplace.models import Market


class PackageStatus(models.TextChoices):
    FILLED = "filled", "Filled (every leg bought and settled)"
    UNFILLED = "unfilled", "Unfilled (nothing bought; escrow released)"


class Package(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="packages")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, db_index=False)
    status = models.CharField(max_length=10, choices=PackageStatus.choices)
    reason = models.CharField(max_length=60, blank=True, help_text="why an unfilled package did not fill (code)")
    failed_leg = models.PositiveIntegerField(null=True, blank=True, help_text="position of the leg that failed")
    total_limit = models.BigIntegerField(null=True, blank=True, help_text="fen: the most the package may cost, fees "
                                                                          "included")
    held = models.BigIntegerField(help_text="fen escrowed for the package (one hold)")
    paid = models.BigIntegerField(default=0, help_text="fen paid: values plus buyer fees")
    hold_transaction_id = models.BigIntegerField()
    settle_transaction_id = models.BigIntegerField(null=True, blank=True)
    release_transaction_id = models.BigIntegerField(null=True, blank=True)
    client_reference = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "trading"
        verbose_name = gettext_lazy("package bid")
        verbose_name_plural = gettext_lazy("package bids")
        constraints = [
            models.CheckConstraint(condition=Q(held__gt=0) & Q(paid__gte=0) & Q(paid__lte=models.F("held")),
                                   name="package_amounts"),
            models.CheckConstraint(
                condition=(Q(status="filled", settle_transaction_id__isnull=False, release_transaction_id__isnull=True,
                             reason="")
                           | Q(status="unfilled", settle_transaction_id__isnull=True, paid=0,
                               release_transaction_id__isnull=False) & ~Q(reason="")),
                name="package_all_or_nothing"),
        ]
        indexes = [models.Index(fields=["organization", "id"])]


class PackageLeg(models.Model):
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="legs")
    position = models.PositiveIntegerField()
    market = models.ForeignKey(Market, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    listing_id = models.BigIntegerField(null=True, blank=True)
    asset_id = models.BigIntegerField()
    quantity = models.BigIntegerField(help_text="asset minor units")
    limit_price = models.BigIntegerField(null=True, blank=True, help_text="fen per unit")
    filled_quantity = models.BigIntegerField(default=0)
    value = models.BigIntegerField(default=0)
    fees = models.BigIntegerField(default=0)
    order_id = models.BigIntegerField(null=True, blank=True, help_text="the leg's FOK order in the market's book")
    trade_ids = models.JSONField(default=list, blank=True)

    class Meta:
        app_label = "trading"
        verbose_name = gettext_lazy("package leg")
        verbose_name_plural = gettext_lazy("package legs")
        constraints = [
            models.UniqueConstraint(fields=["package", "position"], name="package_leg_position"),
            models.CheckConstraint(condition=Q(market__isnull=True) ^ Q(listing_id__isnull=True),
                                   name="package_leg_one_target"),
            models.CheckConstraint(condition=Q(market__isnull=True) | Q(limit_price__isnull=False),
                                   name="package_market_leg_limit"),
            models.CheckConstraint(condition=Q(quantity__gt=0)
                                   & (Q(filled_quantity=0) | Q(filled_quantity=models.F("quantity"))),
                                   name="package_leg_all_or_nothing"),
        ]
