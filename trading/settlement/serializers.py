"""Settlement reports (batches, earmarked funds) and the earmarked payout: representations."""
from rest_framework import serializers

from core.api import MinorUnitField, StrictSerializer
from ledger.earmark import FARMLAND, FUNDS


class FailedTradeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    value = serializers.CharField()
    reason = serializers.CharField(allow_blank=True, allow_null=True)


class SettlementBatchSerializer(serializers.Serializer):
    date = serializers.DateField()
    market = serializers.IntegerField(allow_null=True)
    market_code = serializers.CharField(allow_null=True)
    asset = serializers.CharField()
    settlement_mode = serializers.CharField()
    cutoff = serializers.DateTimeField(allow_null=True)
    trades = serializers.IntegerField()
    settled = serializers.IntegerField()
    settled_value = serializers.CharField()
    settled_quantity = serializers.CharField()
    buyer_fees = serializers.CharField()
    seller_fees = serializers.CharField()
    fees = serializers.CharField()
    failed = serializers.IntegerField()
    failed_value = serializers.CharField()
    pending = serializers.IntegerField()
    pending_value = serializers.CharField()
    first_settled_at = serializers.DateTimeField(allow_null=True)
    last_settled_at = serializers.DateTimeField(allow_null=True)
    failed_trades = FailedTradeSerializer(many=True)


class EarmarkedFundSerializer(serializers.Serializer):
    organization = serializers.IntegerField()
    name = serializers.CharField()
    region = serializers.CharField()
    fund = serializers.ChoiceField(choices=list(FUNDS), help_text="the earmarked fund (a row per body and fund)")
    received = serializers.CharField(help_text="yuan received: quota-sale proceeds (farmland), compensation "
                                               "transfers (basin_compensation), assistance payments "
                                               "(paired_assistance)")
    sales = serializers.IntegerField(help_text="quota sales settled into the fund")
    receipts = serializers.IntegerField(help_text="government-to-government receipts into the fund")
    paid_out = serializers.CharField()
    payouts = serializers.IntegerField()
    by_purpose = serializers.DictField(child=serializers.CharField())
    balance = serializers.CharField()


class EarmarkedPayoutInput(StrictSerializer):
    organization = serializers.IntegerField(required=False, help_text="the fund's holder (operator only; "
                                                                      "a government body pays out of its own)")
    amount = MinorUnitField(scale=2, unit="CNY", help_text="yuan, e.g. \"120000.00\"")
    fund = serializers.CharField(max_length=40, required=False, default=FARMLAND,
                                 help_text="the fund paid out of: farmland (default), basin_compensation, "
                                           "paired_assistance; the purpose must be one of its own")
    purpose_code = serializers.CharField(max_length=40)
    description = serializers.CharField(max_length=500)
    bank_reference = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
