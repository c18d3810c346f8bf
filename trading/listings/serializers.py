"""Listing and bid representations. Prices: yuan per unit, decimal strings with 2 places; quantities:
decimal strings in the instrument's unit (at most its scale of decimals). Inside: integers.

What a reader sees: a listing's public terms; the named buyer of a negotiated offer only for its two
parties; the best bid and bid count of an English auction; nothing about a sealed auction's bids
until it has closed. Bids never name another organization: a reader sees its own bids as its own.
"""
from __future__ import annotations

import json

from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import MinorUnitField, StrictSerializer, decimal_to_minor_or_error
from core.money import from_minor
from ledger.models import Asset
from trading.common.serializers import FillSerializer
from trading.listings import mechanisms
from trading.models import Bid, Listing, ListingKind

MAX_PROVENANCE_BYTES = 16_384


class UnitsField(MinorUnitField):
    """MinorUnitField that reports over-long text as `max_length` (listings' documented behaviour)."""

    MAX_TEXT = 40

    def to_internal_value(self, data):
        if isinstance(data, str) and len(data) > self.MAX_TEXT:
            self.fail("max_length", max_length=self.MAX_TEXT)
        return super().to_internal_value(data)


def _unknown_asset():
    return serializers.ValidationError(
        {"asset": [serializers.ErrorDetail(gettext("unknown asset"), code="unknown_asset")]})


class ListingCreateSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=ListingKind.choices)
    asset = serializers.IntegerField(min_value=1, help_text="the instrument (ledger asset id)")
    quantity = UnitsField(help_text="in the instrument's unit, e.g. \"250\" (mu) or \"2190000\" (m³)")
    title = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    provenance = serializers.DictField(required=False, default=dict,
                                       help_text="farmland: project_id, acceptance_document; "
                                                 "emission: reduction_measure, discharge_permit_no")
    price = UnitsField(scale=2, unit="CNY", required=False, allow_null=True, default=None,
                           help_text="fixed price or negotiated price, yuan per unit")
    divisible = serializers.BooleanField(required=False, default=False, help_text="fixed price: may be bought in part")
    min_purchase = UnitsField(required=False, allow_null=True, default=None,
                                  help_text="fixed price, divisible: smallest purchase, in the unit")
    reserve_price = UnitsField(scale=2, unit="CNY", required=False, allow_null=True, default=None,
                                   help_text="auctions: lowest acceptable bid, yuan per unit")
    min_increment = UnitsField(scale=2, unit="CNY", required=False, allow_null=True, default=None,
                                   help_text="English auction: minimum raise over the best bid, yuan per unit")
    second_price = serializers.BooleanField(required=False, default=False,
                                            help_text="sealed bid: the winner pays the second-highest bid")
    start_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    end_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                       help_text="auction end, offer expiry or fixed-price listing end")
    anti_snipe_minutes = serializers.IntegerField(required=False, min_value=0, max_value=1440, default=0,
                                                  help_text="English auction: a bid in the last N minutes "
                                                            "extends the end by N minutes")
    named_buyer = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1,
                                           help_text="negotiated transfer: the buyer's organization id")

    def validate_provenance(self, value):
        if len(json.dumps(value, default=str)) > MAX_PROVENANCE_BYTES:
            raise serializers.ValidationError(f"at most {MAX_PROVENANCE_BYTES} bytes")
        return value

    def validate(self, attrs):
        asset = Asset.objects.filter(pk=attrs["asset"]).first()
        if asset is None:
            raise _unknown_asset()
        attrs["quantity"] = decimal_to_minor_or_error(attrs["quantity"], asset.scale, "quantity", unit=asset.unit)
        if attrs.get("min_purchase") is not None:
            attrs["min_purchase"] = decimal_to_minor_or_error(attrs["min_purchase"], asset.scale, "min_purchase",
                                                              unit=asset.unit)
        return attrs


class ListingBuySerializer(StrictSerializer):
    quantity = UnitsField(help_text="in the instrument's unit; the whole remaining lot unless divisible")


class ListingBidSerializer(StrictSerializer):
    price = UnitsField(scale=2, unit="CNY", help_text="yuan per unit, for the whole lot")


class ListingRejectSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class AssetBriefSerializer(serializers.ModelSerializer):
    right_type = serializers.CharField(source="right_type_id", allow_null=True)
    basin = serializers.CharField(source="basin_id", allow_null=True)
    origin_region = serializers.CharField(source="origin_region_id", allow_null=True)

    class Meta:
        model = Asset
        fields = ["id", "code", "right_type", "subtype", "unit", "scale", "vintage", "origin_region", "basin",
                  "valid_to"]


class OrganizationBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    kind = serializers.CharField()
    region = serializers.CharField(source="region_id")


class AssetScales(dict):
    """asset id → Asset, loaded on first use (listings refer to assets by id)."""

    def __missing__(self, asset_id):
        self[asset_id] = Asset.objects.get(pk=asset_id)
        return self[asset_id]


def _money(value) -> str | None:
    return None if value is None else from_minor(value, 2)


class ListingSerializer(serializers.ModelSerializer):
    seller = OrganizationBriefSerializer()
    asset = serializers.SerializerMethodField()
    quantity = serializers.SerializerMethodField()
    remaining = serializers.SerializerMethodField()
    min_purchase = serializers.SerializerMethodField()
    price = serializers.SerializerMethodField()
    reserve_price = serializers.SerializerMethodField()
    min_increment = serializers.SerializerMethodField()
    named_buyer = serializers.SerializerMethodField()
    held = serializers.SerializerMethodField()
    best_bid = serializers.SerializerMethodField(help_text="English: the current best bid; sealed: the highest bid, "
                                                           "only after the close")
    bid_count = serializers.SerializerMethodField(help_text="null for a sealed auction before its close")
    is_own = serializers.SerializerMethodField()

    class Meta:
        model = Listing
        fields = ["id", "kind", "status", "title", "seller", "asset", "quantity", "remaining", "divisible",
                  "min_purchase", "price", "reserve_price", "min_increment", "second_price", "start_at", "end_at",
                  "anti_snipe_minutes", "named_buyer", "provenance", "fee_bps", "held", "best_bid", "bid_count",
                  "is_own", "rule_version", "created_at", "closed_at"]

    def _asset(self, listing) -> Asset:
        assets = self.context.setdefault("assets", AssetScales())
        return assets[listing.asset_id]

    def _qty(self, listing, value):
        return None if value is None else from_minor(value, self._asset(listing).scale)

    def _viewer(self):
        return self.context.get("organization_id")

    @extend_schema_field(AssetBriefSerializer)
    def get_asset(self, listing):
        return AssetBriefSerializer(self._asset(listing)).data

    def get_quantity(self, listing) -> str:
        return self._qty(listing, listing.quantity)

    def get_remaining(self, listing) -> str:
        return self._qty(listing, listing.remaining)

    def get_min_purchase(self, listing) -> str | None:
        return self._qty(listing, listing.min_purchase)

    def get_price(self, listing) -> str | None:
        return _money(listing.price)

    def get_reserve_price(self, listing) -> str | None:
        return _money(listing.reserve_price)

    def get_min_increment(self, listing) -> str | None:
        return _money(listing.min_increment)

    def get_is_own(self, listing) -> bool:
        return listing.seller_id == self._viewer()

    def get_named_buyer(self, listing) -> int | None:
        if listing.named_buyer_id and self._viewer() in (listing.seller_id, listing.named_buyer_id):
            return listing.named_buyer_id
        return None

    def get_held(self, listing) -> str | None:
        """The rights still escrowed for the listing (seller only)."""
        return self._qty(listing, listing.hold_remaining) if self.get_is_own(listing) else None

    def _bids_visible(self, listing) -> bool:
        return mechanisms.of(listing).bids_visible(listing)

    def get_best_bid(self, listing) -> str | None:
        if not self._bids_visible(listing):
            return None
        best = getattr(listing, "best_bid_amount", None)
        if best is None and not hasattr(listing, "best_bid_amount"):
            best = listing.bids.order_by("-amount").values_list("amount", flat=True).first()
        return _money(best)

    def get_bid_count(self, listing) -> int | None:
        if not self._bids_visible(listing):
            return None
        count = getattr(listing, "bid_count_value", None)
        return listing.bids.count() if count is None else count


class BidSerializer(serializers.ModelSerializer):
    """A bid as one reader sees it: the amount and time always (once visible), the bidder only when it
    is the reader's own."""

    price = serializers.SerializerMethodField()
    quantity = serializers.SerializerMethodField()
    own = serializers.SerializerMethodField()
    bidder = serializers.SerializerMethodField()
    held = serializers.SerializerMethodField()

    class Meta:
        model = Bid
        fields = ["id", "listing", "price", "quantity", "status", "created_at", "own", "bidder", "held"]

    def get_price(self, bid) -> str:
        return from_minor(bid.amount, 2)

    def get_quantity(self, bid) -> str:
        return from_minor(bid.quantity, self.context["scale"])

    def get_own(self, bid) -> bool:
        return bid.bidder_id == self.context.get("organization_id")

    def get_bidder(self, bid) -> int | None:
        return bid.bidder_id if self.get_own(bid) else None

    def get_held(self, bid) -> str | None:
        return from_minor(bid.hold, 2) if self.get_own(bid) else None


class BidResultSerializer(serializers.Serializer):
    bid = BidSerializer()
    listing = ListingSerializer()
    extended = serializers.BooleanField(help_text="the bid extended the auction's end (anti-sniping)")


class PurchaseResultSerializer(serializers.Serializer):
    listing = ListingSerializer()
    trade = FillSerializer()
