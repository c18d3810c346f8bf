"""Representations shared by the rooms that make trades (order book, listings)."""
from rest_framework import serializers

from core.money import from_minor
from trading.models import Trade


class FillSerializer(serializers.ModelSerializer):
    """A trade as seen by one of its parties."""

    price = serializers.SerializerMethodField()
    quantity = serializers.SerializerMethodField()
    value = serializers.SerializerMethodField()
    fee = serializers.SerializerMethodField()
    side = serializers.SerializerMethodField()
    market = serializers.CharField(source="market.code", allow_null=True, default=None)

    class Meta:
        model = Trade
        fields = ["id", "market", "source", "side", "price", "quantity", "value", "fee", "status", "created_at",
                  "settled_at", "ledger_transaction_id", "rule_version"]

    def _scale(self, t):
        return self.context["scales"][t.asset_id]

    def get_price(self, t) -> str:
        return from_minor(t.price, 2)

    def get_quantity(self, t) -> str:
        return from_minor(t.quantity, self._scale(t))

    def get_value(self, t) -> str:
        return from_minor(t.value, 2)

    def get_side(self, t) -> str:
        return "buy" if t.buyer_id == self.context["organization_id"] else "sell"

    def get_fee(self, t) -> str:
        return from_minor(t.buyer_fee if t.buyer_id == self.context["organization_id"] else t.seller_fee, 2)
