"""Input and output shapes of the assistance API. Amounts are decimal strings in yuan at the edge, fen
inside (`core.api.MinorUnitField`)."""
from __future__ import annotations

from rest_framework import serializers

from core.api import MinorUnitField, StrictSerializer
from core.money import from_minor

from .models import AssistancePair, AssistancePayment, CommitmentFulfilment, PairAgreement, SupportCommitment


def yuan(value: int | None) -> str | None:
    return None if value is None else from_minor(value, 2)


class PairProposeInput(StrictSerializer):
    payer = serializers.IntegerField(help_text="the paying government (organization id)")
    payee = serializers.IntegerField(help_text="the paired key county (organization id)")
    annual_minimum = MinorUnitField(scale=2, unit="CNY", help_text="yuan a year; the plan's floor is 12000000.00")
    effective_year = serializers.IntegerField(min_value=2000, max_value=2100)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class AgreementProposeInput(StrictSerializer):
    annual_minimum = MinorUnitField(scale=2, unit="CNY")
    effective_year = serializers.IntegerField(min_value=2000, max_value=2100)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ReasonInput(StrictSerializer):
    reason = serializers.CharField(max_length=200)


class PaymentProposeInput(StrictSerializer):
    pair = serializers.IntegerField(required=False, help_text="a paired-assistance payment: the pair")
    commitment = serializers.IntegerField(required=False, help_text="a cash fulfilment: the support commitment")
    year = serializers.IntegerField(required=False, min_value=2000, max_value=2100,
                                    help_text="the obligation year (pairs: this year or the last; default this)")
    amount = MinorUnitField(scale=2, unit="CNY")
    purpose_code = serializers.CharField(max_length=40)
    description = serializers.CharField(max_length=300)

    def validate(self, attrs):
        if ("pair" in attrs) == ("commitment" in attrs):
            raise serializers.ValidationError({"pair": ["name a pair or a commitment (exactly one)"]})
        return attrs


class CommitmentCreateInput(StrictSerializer):
    trade = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["industry_transfer", "infrastructure", "cash"])
    amount = MinorUnitField(scale=2, unit="CNY")
    due_date = serializers.DateField()
    description = serializers.CharField(max_length=300)


class FulfilmentInput(StrictSerializer):
    amount = MinorUnitField(scale=2, unit="CNY", help_text="value delivered, yuan")
    description = serializers.CharField(max_length=300)
    evidence = serializers.DictField(help_text='at least {"document": "<reference>"}')


class AgreementSerializer(serializers.ModelSerializer):
    annual_minimum = serializers.SerializerMethodField()

    class Meta:
        model = PairAgreement
        fields = ["id", "pair", "version", "annual_minimum", "effective_year", "description", "status",
                  "proposed_by", "proposer_organization", "created_at", "decided_by", "decided_by_organization",
                  "decided_at", "reason"]

    def get_annual_minimum(self, obj) -> str:
        return yuan(obj.annual_minimum)


class PairSerializer(serializers.ModelSerializer):
    payer_name = serializers.CharField(source="payer.name_zh", read_only=True)
    payee_name = serializers.CharField(source="payee.name_zh", read_only=True)
    payer_region = serializers.CharField(source="payer.region_id", read_only=True)
    payee_region = serializers.CharField(source="payee.region_id", read_only=True)

    class Meta:
        model = AssistancePair
        fields = ["id", "payer", "payer_name", "payer_region", "payee", "payee_name", "payee_region", "created_at"]


class PaymentSerializer(serializers.ModelSerializer):
    amount = serializers.SerializerMethodField()
    ledger_transaction = serializers.IntegerField(source="transaction_id", read_only=True, allow_null=True)

    class Meta:
        model = AssistancePayment
        fields = ["id", "kind", "pair", "commitment", "year", "payer", "payee", "amount", "purpose_code",
                  "description", "status", "proposed_by", "proposer_role", "created_at", "decided_by", "decided_at",
                  "reason", "ledger_transaction"]

    def get_amount(self, obj) -> str:
        return yuan(obj.amount)


class FulfilmentSerializer(serializers.ModelSerializer):
    amount = serializers.SerializerMethodField()

    class Meta:
        model = CommitmentFulfilment
        fields = ["id", "kind", "amount", "description", "evidence", "payment", "recorded_by", "created_at"]

    def get_amount(self, obj) -> str:
        return yuan(obj.amount)


class CommitmentSerializer(serializers.ModelSerializer):
    amount = serializers.SerializerMethodField()
    fulfilled_amount = serializers.SerializerMethodField()
    outstanding = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField(help_text="open | overdue | fulfilled")
    supporter_name = serializers.CharField(source="supporter.name_zh", read_only=True)
    beneficiary_name = serializers.CharField(source="beneficiary.name_zh", read_only=True)

    class Meta:
        model = SupportCommitment
        fields = ["id", "trade", "supporter", "supporter_name", "beneficiary", "beneficiary_name", "kind", "amount",
                  "due_date", "description", "fulfilled_amount", "outstanding", "status", "state", "created_by",
                  "created_at", "fulfilled_at"]

    def get_amount(self, obj) -> str:
        return yuan(obj.amount)

    def get_fulfilled_amount(self, obj) -> str:
        return yuan(obj.fulfilled_amount)

    def get_outstanding(self, obj) -> str:
        return yuan(max(0, obj.amount - obj.fulfilled_amount))

    def get_state(self, obj) -> str:
        from .selectors import commitment_status

        return commitment_status(obj, self.context["today"])


MONEY_KEYS = ("minimum", "paid", "shortfall", "expected_to_date", "behind", "obligation", "received")


def money_row(row: dict) -> dict:
    """A report row with its fen amounts as yuan strings."""
    return {k: (yuan(v) if k in MONEY_KEYS else v) for k, v in row.items()}
