"""Inputs and outputs of the compliance API. Amounts are decimal strings in the unit of the year's
allowance asset (its scale); benchmark and output are decimal strings with at most 6 places."""
from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import serializers

from core.api import MinorUnitField, StrictSerializer, decimal_to_minor_or_error
from core.money import from_minor
from ledger.serializers import AmountField, AssetField, OrganizationField, amount_to_minor

from .models import AllocationMethod, AllocationPhase, ComplianceYear


class YearField(serializers.IntegerField):
    """A compliance year's id; returns the ComplianceYear."""

    def to_internal_value(self, data):
        pk = super().to_internal_value(data)
        year = (ComplianceYear.objects.select_related("allocation_asset", "region", "authority")
                .filter(pk=pk).first() if 0 < pk < 2**63 else None)
        if year is None:
            raise serializers.ValidationError(serializers.ErrorDetail(_("no compliance year {pk}").format(pk=pk),
                                                                      code="does_not_exist"))
        return year


def _six_places(value, field):
    if value is not None and -value.as_tuple().exponent > 6:
        raise serializers.ValidationError({field: [serializers.ErrorDetail(
            _("at most {scale} decimal places for this asset").format(scale=6), code="too_many_decimals")]})
    return value


# --- inputs ------------------------------------------------------------------------------------------

class CoverageInput(StrictSerializer):
    right_type = serializers.SlugField(max_length=30)
    subtype = serializers.CharField(max_length=30, required=False, default="", allow_blank=True)
    region = serializers.CharField(max_length=6)
    since_year = serializers.IntegerField(min_value=2000, max_value=2200)


class YearInput(StrictSerializer):
    right_type = serializers.SlugField(max_length=30)
    region = serializers.CharField(max_length=6)
    year = serializers.IntegerField(min_value=2000, max_value=2200)
    allocation_asset = AssetField(help_text="the allowances allocated for the year (vintage = year)")
    deadline = serializers.DateField(help_text="last day of surrender (Asia/Shanghai), after the year's end")
    pre_allocation_percent = serializers.IntegerField(min_value=0, max_value=100, required=False, default=70)
    name = serializers.CharField(max_length=120, required=False, default="", allow_blank=True)


class CoverInput(StrictSerializer):
    year = YearField()
    organization = OrganizationField()
    method = serializers.ChoiceField(choices=AllocationMethod.choices)
    benchmark = MinorUnitField(scale=None, required=False, help_text="allowances per unit of output (benchmark)")
    listed_amount = MinorUnitField(scale=None, positive=False, required=False,
                                   help_text="the final allocation (list method)")
    output_unit = serializers.CharField(max_length=10, required=False, default="", allow_blank=True)
    verifier = OrganizationField(required=False, help_text="the verifier organization assigned")

    def validate(self, attrs):
        _six_places(attrs.get("benchmark"), "benchmark")
        if attrs.get("listed_amount") is not None:
            asset = attrs["year"].allocation_asset
            minor = decimal_to_minor_or_error(attrs["listed_amount"], asset.scale, "listed_amount", unit=asset.unit)
            if minor < 0:
                raise serializers.ValidationError({"listed_amount": [serializers.ErrorDetail(
                    _("must not be negative"), code="invalid_amount")]})
            attrs["listed_amount"] = minor
        return attrs


class AllocationInput(StrictSerializer):
    year = YearField()
    organization = OrganizationField()
    phase = serializers.ChoiceField(choices=AllocationPhase.choices)
    amount = AmountField(required=False, help_text="pre-allocation: an explicit amount")
    expected_output = MinorUnitField(scale=None, required=False,
                                     help_text="pre-allocation by benchmark: the expected output")

    def validate(self, attrs):
        _six_places(attrs.get("expected_output"), "expected_output")
        if attrs.get("amount") is not None:
            asset = attrs["year"].allocation_asset
            attrs["amount"] = amount_to_minor(attrs["amount"], asset.scale, unit=asset.unit)
        return attrs


class EmissionInput(StrictSerializer):
    year = YearField()
    organization = OrganizationField(help_text="the covered enterprise")
    amount = MinorUnitField(scale=None, positive=False, help_text="verified emissions in allowance units")
    output = MinorUnitField(scale=None, positive=False, required=False,
                            help_text="verified output (activity level), for a benchmark true-up")
    evidence_sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", help_text="SHA-256 of the verification report")
    evidence_reference = serializers.CharField(max_length=200, help_text="the report's reference")
    reason = serializers.CharField(max_length=300, required=False, default="", allow_blank=True,
                                   help_text="required for a correction (any submission after the first)")

    def validate(self, attrs):
        _six_places(attrs.get("output"), "output")
        asset = attrs["year"].allocation_asset
        minor = decimal_to_minor_or_error(attrs["amount"], asset.scale, "amount", unit=asset.unit)
        if minor < 0 or (attrs.get("output") is not None and attrs["output"] < 0):
            raise serializers.ValidationError({"amount": [serializers.ErrorDetail(_("must not be negative"),
                                                                                  code="invalid_amount")]})
        attrs["amount"] = minor
        return attrs


class SurrenderInput(StrictSerializer):
    year = YearField()
    asset = AssetField()
    amount = AmountField()

    def validate(self, attrs):
        attrs["amount"] = amount_to_minor(attrs["amount"], attrs["asset"].scale, unit=attrs["asset"].unit)
        return attrs


# --- outputs -----------------------------------------------------------------------------------------

def _units(value: int | None, year: ComplianceYear) -> str | None:
    return None if value is None else from_minor(value, year.allocation_asset.scale)


class CoverageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    right_type = serializers.CharField(source="right_type_id")
    subtype = serializers.CharField()
    region = serializers.CharField(source="region_id")
    since_year = serializers.IntegerField()


class YearSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    right_type = serializers.CharField(source="right_type_id")
    region = serializers.CharField(source="region_id")
    year = serializers.IntegerField()
    allocation_asset = serializers.CharField(source="allocation_asset.code")
    unit = serializers.CharField(source="allocation_asset.unit")
    authority = serializers.IntegerField(source="authority_id")
    deadline = serializers.DateField()
    pre_allocation_percent = serializers.IntegerField()
    name = serializers.CharField()


class CoveredSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    year = serializers.IntegerField(source="compliance_year_id")
    organization = serializers.IntegerField(source="organization_id")
    method = serializers.CharField()
    benchmark = serializers.CharField(allow_null=True)
    listed_amount = serializers.SerializerMethodField()
    verifier = serializers.IntegerField(source="verifier_id", allow_null=True)

    def get_listed_amount(self, obj) -> str | None:
        return _units(obj.listed_amount, obj.compliance_year)


class AllocationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    year = serializers.IntegerField(source="compliance_year_id")
    organization = serializers.IntegerField(source="covered.organization_id")
    phase = serializers.CharField()
    amount = serializers.SerializerMethodField()
    basis = serializers.JSONField()
    movement = serializers.IntegerField(source="movement_id", allow_null=True,
                                        help_text="the issuance request a second person confirms")
    status = serializers.SerializerMethodField(help_text="pending/confirmed/rejected (issuance), owed, nil")
    created_at = serializers.DateTimeField()

    def get_amount(self, obj) -> str:
        return _units(obj.amount, obj.compliance_year)

    def get_status(self, obj) -> str:
        if obj.movement_id is not None:
            return obj.movement.status
        if obj.amount > 0:
            return "confirmed"  # posted at once (single-person amount)
        return "owed" if obj.amount < 0 else "nil"


class EmissionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    year = serializers.IntegerField(source="compliance_year_id")
    organization = serializers.IntegerField(source="organization_id")
    version = serializers.IntegerField()
    amount = serializers.SerializerMethodField()
    output = serializers.CharField(allow_null=True)
    evidence_sha256 = serializers.CharField()
    evidence_reference = serializers.CharField()
    reason = serializers.CharField()
    verifier = serializers.IntegerField(source="verifier_id")
    created_at = serializers.DateTimeField()

    def get_amount(self, obj) -> str:
        return _units(obj.amount, obj.compliance_year)


class SurrenderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    year = serializers.IntegerField(source="compliance_year_id")
    organization = serializers.IntegerField(source="organization_id")
    asset = serializers.CharField(source="asset.code")
    amount = serializers.SerializerMethodField()
    transaction = serializers.IntegerField(source="transaction_id", help_text="the ledger retirement")
    surrendered_on = serializers.DateField()

    def get_amount(self, obj) -> str:
        return from_minor(obj.amount, obj.asset.scale)


class ObligationSerializer(serializers.Serializer):
    """One covered enterprise's standing for one year (amounts in the year's allowance unit)."""

    year = serializers.IntegerField(source="year.id")
    calendar_year = serializers.IntegerField(source="year.year")
    right_type = serializers.CharField(source="year.right_type_id")
    organization = serializers.IntegerField(source="covered.organization_id")
    organization_name = serializers.CharField(source="covered.organization.name_zh")
    deadline = serializers.DateField(source="year.deadline")
    unit = serializers.CharField(source="year.allocation_asset.unit")
    allocated = serializers.SerializerMethodField(help_text="confirmed allocations issued")
    emissions = serializers.SerializerMethodField(help_text="latest verified emissions")
    verified_version = serializers.SerializerMethodField()
    owed_true_up = serializers.SerializerMethodField(help_text="a negative true-up, owed")
    obligation = serializers.SerializerMethodField()
    surrendered = serializers.SerializerMethodField()
    remaining = serializers.SerializerMethodField()

    def _u(self, obj, key) -> str:
        return _units(obj[key], obj["year"])

    def get_allocated(self, obj) -> str:
        return self._u(obj, "allocated")

    def get_emissions(self, obj) -> str:
        return self._u(obj, "emissions")

    def get_verified_version(self, obj) -> int | None:
        return obj["verified"].version if obj["verified"] else None

    def get_owed_true_up(self, obj) -> str:
        return self._u(obj, "owed_true_up")

    def get_obligation(self, obj) -> str:
        return self._u(obj, "obligation")

    def get_surrendered(self, obj) -> str:
        return self._u(obj, "surrendered")

    def get_remaining(self, obj) -> str:
        return self._u(obj, "remaining")


class ShortfallRowSerializer(serializers.Serializer):
    organization = serializers.IntegerField(source="organization.id")
    organization_name = serializers.CharField(source="organization.name_zh")
    region = serializers.CharField(source="organization.region_id")
    obligation = serializers.CharField()
    surrendered = serializers.CharField()
    shortfall = serializers.CharField()


class ShortfallRegionSerializer(serializers.Serializer):
    region = serializers.CharField()
    enterprises = serializers.IntegerField()
    short = serializers.IntegerField(help_text="enterprises with a shortfall")
    obligation = serializers.CharField()
    surrendered = serializers.CharField()
    shortfall = serializers.CharField()


class ShortfallReportSerializer(serializers.Serializer):
    year = YearSerializer()
    deadline_passed = serializers.BooleanField()
    rows = ShortfallRowSerializer(many=True)
    regions = ShortfallRegionSerializer(many=True)
