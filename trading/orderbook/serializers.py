"""Order and trade representations. Prices: yuan per unit, decimal strings with 2 places; quantities:
decimal strings in the asset's unit with at most its scale of decimals. Inside: integers."""
from rest_framework import serializers

from core.api import MinorUnitField, StrictSerializer, check_amount, decimal_to_minor_or_error
from core.errors import ApiError
from core.money import ceil_div, from_minor
from marketplace.errors import UNKNOWN_MARKET
from marketplace.models import Market
from trading.common.serializers import FillSerializer
from trading.models import Order, TimeInForce, Trade, TradeEvent

_instruments: dict[int, tuple[int, str]] = {}


def market_instrument(market_id: int) -> tuple[int, str] | None:
    """(scale, unit) of a market's instrument (None for an unknown market). Cached per process: a market's
    instrument and an instrument's scale and unit never change, and ids are never reused."""
    if market_id not in _instruments:
        row = Market.objects.filter(pk=market_id).values_list("asset__scale", "asset__unit").first()
        if row is None:
            return None
        _instruments[market_id] = row
    return _instruments[market_id]


class OrderCreateSerializer(StrictSerializer):
    market = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    side = serializers.ChoiceField(choices=["buy", "sell"])
    price = MinorUnitField(scale=2, unit="CNY", help_text="yuan per unit, e.g. \"28500.00\"")
    quantity = MinorUnitField(help_text="in the instrument's unit, e.g. \"10\" or \"2.5\"")
    time_in_force = serializers.ChoiceField(choices=TimeInForce.values, default="gtc")
    client_order_id = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)

    def validate(self, attrs):
        instrument = market_instrument(attrs["market"])
        if instrument is None:
            raise ApiError(UNKNOWN_MARKET, fields={"market": f"no market {attrs['market']}"})
        scale, unit = instrument
        attrs["quantity"] = decimal_to_minor_or_error(attrs["quantity"], scale, "quantity", unit=unit)
        # the order's value (what a buy holds) must stay within the cash cap too
        check_amount(ceil_div(attrs["price"] * attrs["quantity"], 10**scale), scale=2, unit="CNY", field="quantity")
        return attrs


class OrderReduceSerializer(StrictSerializer):
    """`context["scale"]`: the order's instrument scale."""

    remaining = MinorUnitField(help_text="the new remaining quantity (smaller than now)")

    def validate(self, attrs):
        attrs["remaining"] = decimal_to_minor_or_error(attrs["remaining"], self.context["scale"], "remaining")
        return attrs


def _qty(obj, value):
    return from_minor(value, obj.market.asset.scale)


class OrderSerializer(serializers.ModelSerializer):
    market = serializers.CharField(source="market.code")
    price = serializers.SerializerMethodField()
    quantity = serializers.SerializerMethodField()
    remaining = serializers.SerializerMethodField()
    filled_value = serializers.SerializerMethodField()
    fees_charged = serializers.SerializerMethodField()
    held = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = ["id", "market", "side", "time_in_force", "price", "quantity", "remaining", "filled_value",
                  "fees_charged", "held", "status", "cancel_reason", "client_order_id", "rule_version", "created_at",
                  "updated_at"]

    def get_price(self, o) -> str:
        return from_minor(o.price, 2)

    def get_quantity(self, o) -> str:
        return _qty(o, o.quantity)

    def get_remaining(self, o) -> str:
        return _qty(o, o.remaining)

    def get_filled_value(self, o) -> str:
        return from_minor(o.filled_value, 2)

    def get_fees_charged(self, o) -> str:
        return from_minor(o.fees_charged, 2)

    def get_held(self, o) -> str:
        return from_minor(o.hold_remaining, 2) if o.side == "buy" else _qty(o, o.hold_remaining)


# The placement response, built without serializer instances: a ModelSerializer builds its fields from
# the model on every instantiation, which cost more than the order's matching. These produce exactly
# what OrderSerializer and FillSerializer produce (tests/orderbook/test_api.py compares them); the
# serializers stay the schema and serve the lists.
_datetime = serializers.DateTimeField()


def _when(value):
    return None if value is None else _datetime.to_representation(value)


def order_data(o: Order) -> dict:
    scale = o.market.asset.scale
    return {"id": o.id, "market": o.market.code, "side": o.side, "time_in_force": o.time_in_force,
            "price": from_minor(o.price, 2), "quantity": from_minor(o.quantity, scale),
            "remaining": from_minor(o.remaining, scale), "filled_value": from_minor(o.filled_value, 2),
            "fees_charged": from_minor(o.fees_charged, 2),
            "held": from_minor(o.hold_remaining, 2 if o.side == "buy" else scale),
            "status": o.status, "cancel_reason": o.cancel_reason, "client_order_id": o.client_order_id,
            "rule_version": o.rule_version, "created_at": _when(o.created_at), "updated_at": _when(o.updated_at)}


def fill_data(t: Trade, *, scale: int, organization_id: int) -> dict:
    buyer = t.buyer_id == organization_id
    return {"id": t.id, "market": t.market.code if t.market_id is not None else None, "source": t.source,
            "side": "buy" if buyer else "sell", "price": from_minor(t.price, 2),
            "quantity": from_minor(t.quantity, scale), "value": from_minor(t.value, 2),
            "fee": from_minor(t.buyer_fee if buyer else t.seller_fee, 2), "status": t.status,
            "created_at": _when(t.created_at), "settled_at": _when(t.settled_at),
            "ledger_transaction_id": t.ledger_transaction_id, "rule_version": t.rule_version}


class PlaceResultSerializer(serializers.Serializer):
    order = OrderSerializer()
    fills = FillSerializer(many=True)


class TradeEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TradeEvent
        fields = ["id", "trade", "status", "detail", "created_at"]


class PublicTradeSerializer(serializers.Serializer):
    """Anonymized: price transparency without naming the parties."""

    id = serializers.IntegerField()
    market = serializers.CharField(help_text="market code; empty for a listing's trade")
    asset = serializers.CharField(help_text="instrument code")
    source = serializers.CharField()
    price = serializers.CharField(help_text="yuan per unit")
    quantity = serializers.CharField(help_text="in the instrument's unit")
    aggressor = serializers.CharField(help_text="side of the incoming order (order book); empty otherwise")
    time = serializers.DateTimeField()


class DepthLevelSerializer(serializers.Serializer):
    price = serializers.CharField()
    quantity = serializers.CharField()
    orders = serializers.IntegerField()


class DepthSerializer(serializers.Serializer):
    market = serializers.CharField()
    reference_price = serializers.CharField(allow_null=True, help_text="previous session's close (VWAP)")
    bids = DepthLevelSerializer(many=True)
    asks = DepthLevelSerializer(many=True)


class CandleSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    open = serializers.CharField()
    high = serializers.CharField()
    low = serializers.CharField()
    close = serializers.CharField()
    volume = serializers.CharField()
    value = serializers.CharField()
    trades = serializers.IntegerField()
