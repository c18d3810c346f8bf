"""Reserve representations: prices and cash in yuan (2 places), quantities in the instrument's unit,
decimal strings at the edge; integers inside."""
from __future__ import annotations

from rest_framework import serializers

from core.api import MinorUnitField, StrictSerializer, decimal_to_minor_or_error
from core.errors import ApiError
from core.money import from_minor
from ledger.errors import UNKNOWN_ASSET
from ledger.models import Asset

from .models import BuybackNotice, Designation, Release
from .services import RELEASE_KINDS


def _yuan(v):
    return None if v is None else from_minor(v, 2)


def _asset_scale(asset_id: int, field: str = "asset") -> tuple[int, str]:
    row = Asset.objects.filter(pk=asset_id).values_list("scale", "unit").first()
    if row is None:
        raise ApiError(UNKNOWN_ASSET, fields={field: str(asset_id)})
    return row


class DesignationCreateSerializer(StrictSerializer):
    right_type = serializers.CharField(max_length=30)
    organization = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    floor_price = MinorUnitField(scale=2, unit="CNY", required=False, allow_null=True, default=None,
                                 help_text="guided-price floor of reserve sales, yuan per unit")
    note = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class DesignationDecideSerializer(StrictSerializer):
    designation = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    decision = serializers.ChoiceField(choices=["confirm", "reject"])
    reason = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class DesignationSerializer(serializers.ModelSerializer):
    organization_name = serializers.CharField(source="organization.name_zh")
    floor_price = serializers.SerializerMethodField()

    class Meta:
        model = Designation
        fields = ["id", "right_type", "organization", "organization_name", "floor_price", "status", "note",
                  "proposed_by", "decided_by", "created_at", "decided_at"]

    def get_floor_price(self, d) -> str | None:
        return _yuan(d.floor_price)


class NoticeCreateSerializer(StrictSerializer):
    asset = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    price = MinorUnitField(scale=2, unit="CNY", help_text="yuan per unit")
    quantity = MinorUnitField(help_text="in the instrument's unit")
    title = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)

    def validate(self, attrs):
        scale, unit = _asset_scale(attrs["asset"])
        attrs["quantity"] = decimal_to_minor_or_error(attrs["quantity"], scale, "quantity", unit=unit)
        return attrs


class NoticeRefSerializer(StrictSerializer):
    notice = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class TenderCreateSerializer(StrictSerializer):
    notice = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    quantity = MinorUnitField(help_text="in the instrument's unit")

    def validate(self, attrs):
        asset_id = BuybackNotice.objects.filter(pk=attrs["notice"]).values_list("asset_id", flat=True).first()
        if asset_id is None:
            raise ApiError("not_found", fields={"notice": str(attrs["notice"])})
        scale, unit = _asset_scale(asset_id)
        attrs["quantity"] = decimal_to_minor_or_error(attrs["quantity"], scale, "quantity", unit=unit)
        return attrs


class NoticeSerializer(serializers.ModelSerializer):
    asset = serializers.CharField(source="asset.code")
    unit = serializers.CharField(source="asset.unit")
    price = serializers.SerializerMethodField()
    quantity = serializers.SerializerMethodField()
    remaining = serializers.SerializerMethodField()
    held = serializers.SerializerMethodField()
    paid = serializers.SerializerMethodField()

    class Meta:
        model = BuybackNotice
        fields = ["id", "organization", "asset", "unit", "price", "quantity", "remaining", "held", "paid", "status",
                  "title", "hold_transaction_id", "release_transaction_id", "created_at", "closed_at"]

    def get_price(self, n) -> str:
        return _yuan(n.price)

    def get_quantity(self, n) -> str:
        return from_minor(n.quantity, n.asset.scale)

    def get_remaining(self, n) -> str:
        return from_minor(n.remaining, n.asset.scale)

    def get_held(self, n) -> str:
        return _yuan(n.held)

    def get_paid(self, n) -> str:
        return _yuan(n.paid)


class TenderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    notice = serializers.IntegerField(source="notice_id")
    holder = serializers.IntegerField(source="holder_id")
    quantity = serializers.SerializerMethodField()
    value = serializers.SerializerMethodField()
    ledger_transaction = serializers.IntegerField(source="ledger_transaction_id")
    created_at = serializers.DateTimeField()

    def get_quantity(self, t) -> str:
        return from_minor(t.quantity, t.notice.asset.scale)

    def get_value(self, t) -> str:
        return _yuan(t.value)


class ReleaseCreateSerializer(StrictSerializer):
    asset = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    kind = serializers.ChoiceField(choices=list(RELEASE_KINDS))
    quantity = MinorUnitField(help_text="in the instrument's unit")
    price = MinorUnitField(scale=2, unit="CNY", required=False, allow_null=True, default=None,
                           help_text="fixed price, yuan per unit")
    reserve_price = MinorUnitField(scale=2, unit="CNY", required=False, allow_null=True, default=None,
                                   help_text="auctions: the reserve price, yuan per unit")
    min_increment = MinorUnitField(scale=2, unit="CNY", required=False, allow_null=True, default=None)
    divisible = serializers.BooleanField(required=False, default=False)
    min_purchase = MinorUnitField(required=False, allow_null=True, default=None)
    end_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    provenance = serializers.DictField(required=False, default=dict)
    title = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)

    def validate(self, attrs):
        scale, unit = _asset_scale(attrs["asset"])
        attrs["quantity"] = decimal_to_minor_or_error(attrs["quantity"], scale, "quantity", unit=unit)
        if attrs["min_purchase"] is not None:
            attrs["min_purchase"] = decimal_to_minor_or_error(attrs["min_purchase"], scale, "min_purchase", unit=unit)
        return attrs


class ReleaseSerializer(serializers.ModelSerializer):
    asset = serializers.CharField(source="asset.code")
    quantity = serializers.SerializerMethodField()
    price = serializers.SerializerMethodField()
    floor_price = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = ["id", "organization", "asset", "listing_id", "kind", "quantity", "price", "floor_price",
                  "created_at"]

    def get_quantity(self, r) -> str:
        return from_minor(r.quantity, r.asset.scale)

    def get_price(self, r) -> str:
        return _yuan(r.price)

    def get_floor_price(self, r) -> str | None:
        return _yuan(r.floor_price)
