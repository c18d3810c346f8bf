"""Package representations. Prices and amounts: yuan, decimal strings with 2 places; quantities: decimal
strings in the leg's instrument unit (at most its scale of decimals). Inside: integers."""
from __future__ import annotations

from rest_framework import serializers

from core.api import MinorUnitField, StrictSerializer, check_amount, decimal_to_minor_or_error
from core.errors import ApiError
from core.money import ceil_div, from_minor
from ledger.models import Asset
from trading.models import Listing, Package, PackageLeg
from trading.orderbook.serializers import market_instrument
from trading.packages.errors import INVALID_PACKAGE, PACKAGE_TOO_LARGE
from trading.packages.services import MAX_LEGS, LegSpec


class LegInputSerializer(StrictSerializer):
    market = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False, allow_null=True, default=None,
                                      help_text="an order-book market: bought from its resting asks")
    listing = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False, allow_null=True,
                                       default=None, help_text="a fixed-price listing")
    quantity = MinorUnitField(help_text="in the instrument's unit, e.g. \"20\"")
    limit_price = MinorUnitField(scale=2, unit="CNY", required=False, allow_null=True, default=None,
                                 help_text="yuan per unit: required for a market leg, optional for a listing leg")


class PackageCreateSerializer(StrictSerializer):
    legs = LegInputSerializer(many=True)
    total_limit = MinorUnitField(scale=2, unit="CNY", required=False, allow_null=True, default=None,
                                 help_text="yuan: the most the whole package may cost, fees included")
    client_reference = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)

    def validate(self, attrs):
        legs = attrs["legs"]
        if not legs:
            raise ApiError(INVALID_PACKAGE, fields={"legs": "at least one leg"})
        if len(legs) > MAX_LEGS:
            raise ApiError(PACKAGE_TOO_LARGE, limit=MAX_LEGS, fields={"legs": f"at most {MAX_LEGS}"})
        specs = []
        for n, leg in enumerate(legs):
            if (leg["market"] is None) == (leg["listing"] is None):
                raise ApiError(INVALID_PACKAGE, fields={f"legs[{n}]": "exactly one of market, listing"})
            if leg["market"] is not None:
                instrument = market_instrument(leg["market"])
                if instrument is None:
                    raise ApiError("unknown_market", fields={f"legs[{n}].market": f"no market {leg['market']}"})
                scale, unit = instrument
            else:
                row = (Asset.objects.filter(pk=Listing.objects.filter(pk=leg["listing"]).values("asset_id")[:1])
                       .values_list("scale", "unit").first())
                if row is None:
                    raise ApiError("not_found", fields={f"legs[{n}].listing": f"no listing {leg['listing']}"})
                scale, unit = row
            quantity = decimal_to_minor_or_error(leg["quantity"], scale, f"legs[{n}].quantity", unit=unit)
            if leg["limit_price"] is not None:
                check_amount(ceil_div(leg["limit_price"] * quantity, 10**scale), scale=2, unit="CNY",
                             field=f"legs[{n}].quantity")
            specs.append(LegSpec(quantity=quantity, market_id=leg["market"], listing_id=leg["listing"],
                                 limit_price=leg["limit_price"]))
        attrs["specs"] = specs
        return attrs


def _yuan(v):
    return None if v is None else from_minor(v, 2)


class PackageLegSerializer(serializers.ModelSerializer):
    market = serializers.SerializerMethodField()
    quantity = serializers.SerializerMethodField()
    filled_quantity = serializers.SerializerMethodField()
    limit_price = serializers.SerializerMethodField()
    value = serializers.SerializerMethodField()
    fees = serializers.SerializerMethodField()
    unit = serializers.SerializerMethodField()
    order = serializers.IntegerField(source="order_id", allow_null=True)
    trades = serializers.ListField(source="trade_ids", child=serializers.IntegerField())
    listing = serializers.IntegerField(source="listing_id", allow_null=True)
    asset = serializers.IntegerField(source="asset_id")

    class Meta:
        model = PackageLeg
        fields = ["position", "market", "listing", "asset", "unit", "quantity", "limit_price", "filled_quantity",
                  "value", "fees", "order", "trades"]

    def _asset(self, leg) -> Asset:
        cache = self.context.setdefault("assets", {})
        if leg.asset_id not in cache:
            cache[leg.asset_id] = Asset.objects.get(pk=leg.asset_id)
        return cache[leg.asset_id]

    def get_market(self, leg) -> str | None:
        return leg.market.code if leg.market_id else None

    def get_unit(self, leg) -> str:
        return self._asset(leg).unit

    def get_quantity(self, leg) -> str:
        return from_minor(leg.quantity, self._asset(leg).scale)

    def get_filled_quantity(self, leg) -> str:
        return from_minor(leg.filled_quantity, self._asset(leg).scale)

    def get_limit_price(self, leg) -> str | None:
        return _yuan(leg.limit_price)

    def get_value(self, leg) -> str:
        return _yuan(leg.value)

    def get_fees(self, leg) -> str:
        return _yuan(leg.fees)


class PackageSerializer(serializers.ModelSerializer):
    legs = serializers.SerializerMethodField()
    held = serializers.SerializerMethodField(help_text="yuan escrowed for the package while it was evaluated")
    paid = serializers.SerializerMethodField(help_text="yuan paid: values plus buyer fees")
    total_limit = serializers.SerializerMethodField()
    ledger_transaction = serializers.IntegerField(source="settle_transaction_id", allow_null=True)

    class Meta:
        model = Package
        fields = ["id", "status", "reason", "failed_leg", "total_limit", "held", "paid", "ledger_transaction",
                  "hold_transaction_id", "release_transaction_id", "client_reference", "created_at", "legs"]

    def get_legs(self, p) -> list[dict]:
        legs = sorted(p.legs.all(), key=lambda leg: leg.position)
        return PackageLegSerializer(legs, many=True, context=self.context).data

    def get_held(self, p) -> str:
        return _yuan(p.held)

    def get_paid(self, p) -> str:
        return _yuan(p.paid)

    def get_total_limit(self, p) -> str | None:
        return _yuan(p.total_limit)
