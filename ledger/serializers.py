"""Input and output serializers of the ledger API.

Amounts cross the API as decimal strings and become integer minor units (10^-scale of the asset's
unit) at the edge; a float never appears in either direction. An input amount is checked against its
asset's scale once the asset is known: more places than the asset allows is `too_many_decimals`, zero
or negative is `invalid_amount`, an unknown asset code is `unknown_asset` (each code becomes the error
envelope's code when it is the only problem with the request). Inputs subclass `StrictSerializer`, so
unknown fields are refused; the services make every change.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils.translation import gettext
from django.utils.translation import gettext as _
from rest_framework import serializers

from accounts.models import Basin, Organization, Region
from core.api import MinorUnitField, StrictSerializer, check_amount, parse_decimal_string
from core.money import from_minor, to_minor

from .errors import INVALID_AMOUNT, TOO_MANY_DECIMALS, UNKNOWN_ASSET
from .keys import public_pem
from .models import Asset, Bucket
from .sealing import checkpoint_signed_body

MAX_ID = 2**63 - 1
MAX_MINOR = 2**62


def _error(code: str, message: str) -> serializers.ValidationError:
    return serializers.ValidationError(serializers.ErrorDetail(message, code=code))


# --- input fields ------------------------------------------------------------------------------------

class AmountField(MinorUnitField):
    """A positive decimal string; converted to minor units by the serializer once the asset is known.
    Zero or negative is `invalid_amount`."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "decimal string, at most the asset's scale in decimal places")
        super().__init__(scale=None, positive=True, **kwargs)

    def fail(self, key, **kwargs):
        if key == "positive":
            raise _error(INVALID_AMOUNT, _("must be greater than zero"))
        super().fail(key, **kwargs)


def amount_to_minor(value: Decimal, scale: int, field: str = "amount", *, unit: str | None = None) -> int:
    """Minor units of a positive amount, within its unit's plausibility cap (settings.AMOUNT_CAPS)."""
    try:
        minor = to_minor(value, scale)
    except ValueError:
        raise serializers.ValidationError({field: [serializers.ErrorDetail(
            _("at most {scale} decimal places for this asset").format(scale=scale), code=TOO_MANY_DECIMALS)]})
    if minor <= 0:
        raise serializers.ValidationError({field: [serializers.ErrorDetail(_("must be greater than zero"),
                                                                           code=INVALID_AMOUNT)]})
    return check_amount(minor, scale=scale, unit=unit, field=field)


class AssetField(serializers.CharField):
    """An asset code; returns the Asset. Unknown codes are `unknown_asset`."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "asset code, e.g. CNY or EM-SO2-2026-350121")
        super().__init__(**kwargs)  # no max_length validator: it would run on the Asset returned

    def to_internal_value(self, data):
        code = super().to_internal_value(data)
        asset = Asset.objects.filter(code=code).first() if len(code) <= 60 else None
        if asset is None:
            raise _error(UNKNOWN_ASSET, f"unknown asset {code!r}")
        return asset

    def to_representation(self, value):
        return value.code if isinstance(value, Asset) else value


class OrganizationField(serializers.IntegerField):
    """An organization id; returns the Organization."""

    def to_internal_value(self, data):
        pk = super().to_internal_value(data)
        if not 0 < pk <= MAX_ID:  # checked here: validators would run on the Organization returned
            raise _error("does_not_exist", gettext("no organization {id}").format(id=pk))
        org = Organization.objects.select_related("region").filter(pk=pk).first()
        if org is None:
            raise _error("does_not_exist", gettext("no organization {id}").format(id=pk))
        return org

    def to_representation(self, value):
        return value.pk if isinstance(value, Organization) else value


class _AssetAmount(StrictSerializer):
    asset = AssetField()
    amount = AmountField()

    def validate(self, attrs):
        attrs["amount"] = amount_to_minor(attrs["amount"], attrs["asset"].scale, unit=attrs["asset"].unit)
        return attrs


# --- inputs ------------------------------------------------------------------------------------------

class CashMovementInput(StrictSerializer):
    organization = OrganizationField(help_text="the participant whose CNY account moves")
    amount = AmountField(help_text="CNY, decimal string with at most 2 places")
    bank_reference = serializers.CharField(max_length=64, help_text="the bank's reference the operator confirmed")

    def validate(self, attrs):
        attrs["amount"] = amount_to_minor(attrs["amount"], 2, unit="CNY")
        return attrs


class FarmlandEvidenceInput(StrictSerializer):
    project_id = serializers.CharField(max_length=64, required=False, help_text="land consolidation project id")
    area_mu = serializers.CharField(max_length=24, required=False, help_text="accepted new farmland, mu (decimal)")
    acceptance_document = serializers.CharField(max_length=120, required=False,
                                                help_text="acceptance document number (验收文号)")
    notes = serializers.CharField(max_length=500, required=False)

    def validate_area_mu(self, value):
        area = parse_decimal_string(value)
        if area is None:
            raise _error("invalid_number", "a decimal number of mu, as a string of ASCII digits")
        if area <= 0:
            raise _error(INVALID_AMOUNT, "must be greater than zero")
        return str(area)


class IssuanceInput(_AssetAmount):
    recipient = OrganizationField(help_text="the organization receiving the rights")
    evidence = FarmlandEvidenceInput(required=False, help_text="required for farmland quotas")
    issuer = OrganizationField(required=False, help_text="only the operator names the issuing authority; "
                                                         "a government body always issues as itself")


class TransferInput(_AssetAmount):
    sender = OrganizationField()
    recipient = OrganizationField()
    reason = serializers.CharField(max_length=200, required=False, default="")


class RetirementInput(_AssetAmount):
    reason = serializers.CharField(max_length=200, help_text="why (e.g. annual compliance surrender)")
    compliance_period = serializers.CharField(max_length=20, help_text="e.g. 2026 or 2026H1")
    organization = OrganizationField(required=False, help_text="only the operator retires for a holder; "
                                                               "others retire their own holdings")


class ExpirationInput(StrictSerializer):
    asset = AssetField()
    organization = OrganizationField(help_text="the holder whose remaining available balance expires")


class AssetInput(StrictSerializer):
    code = serializers.SlugField(max_length=60)
    right_type = serializers.SlugField(max_length=30)
    subtype = serializers.CharField(max_length=30, allow_blank=True, default="")
    unit = serializers.CharField(max_length=10, required=False, default="",
                                 help_text="defaults to the right type's unit")
    scale = serializers.IntegerField(min_value=0, max_value=6)
    vintage = serializers.IntegerField(min_value=1990, max_value=2200, required=False, allow_null=True)
    origin_region = serializers.CharField(max_length=6)
    basin = serializers.CharField(max_length=40, required=False, allow_null=True, default=None)
    valid_from = serializers.DateField(required=False, allow_null=True)
    valid_to = serializers.DateField(required=False, allow_null=True)
    issuer = OrganizationField(required=False, help_text="only the operator names the issuing authority")
    name_zh = serializers.CharField(max_length=120, required=False, default="")
    name_en = serializers.CharField(max_length=160, required=False, default="")

    def validate_origin_region(self, value):
        if not Region.objects.filter(code=value).exists():
            raise _error("unknown_region", gettext("unknown region code"))
        return value

    def validate_basin(self, value):
        if value and not Basin.objects.filter(code=value).exists():
            raise _error("unknown_basin", "unknown basin")
        return value

    def validate(self, attrs):
        start, end = attrs.get("valid_from"), attrs.get("valid_to")
        if start and end and end < start:
            raise serializers.ValidationError({"valid_to": [serializers.ErrorDetail(
                "must not be before valid_from", code="invalid")]})
        return attrs


# --- outputs -----------------------------------------------------------------------------------------

class AssetSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    kind = serializers.CharField()
    right_type = serializers.CharField(source="right_type_id", allow_null=True)
    subtype = serializers.CharField()
    unit = serializers.CharField()
    scale = serializers.IntegerField()
    vintage = serializers.IntegerField(allow_null=True)
    origin_region = serializers.CharField(source="origin_region_id", allow_null=True)
    basin = serializers.CharField(source="basin_id", allow_null=True)
    valid_from = serializers.DateField(allow_null=True)
    valid_to = serializers.DateField(allow_null=True)
    issuer = serializers.IntegerField(source="issuer_id", allow_null=True)
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    expired = serializers.SerializerMethodField()

    def get_expired(self, asset) -> bool:
        return asset.is_expired(self.context.get("today") or date.today())


class HoldingSerializer(serializers.Serializer):
    account = serializers.IntegerField(source="id", allow_null=True, help_text="null: not opened yet")
    kind = serializers.CharField(help_text="participant, fee_income, or an earmarked fund's kind: earmarked "
                                           "(farmland), earmarked_basin, earmarked_assistance")
    fund = serializers.SerializerMethodField(help_text="the earmarked fund (farmland, basin_compensation, "
                                                       "paired_assistance); null for other accounts")
    asset = serializers.CharField(source="asset.code")
    asset_name = serializers.CharField(source="asset.name_zh")
    unit = serializers.CharField(source="asset.unit")
    available = serializers.SerializerMethodField()
    held = serializers.SerializerMethodField()

    def get_fund(self, account) -> str | None:
        from .earmark import FUND_OF_KIND

        return FUND_OF_KIND.get(account.kind)

    def get_available(self, account) -> str:
        return from_minor(account.available, account.asset.scale)

    def get_held(self, account) -> str:
        return from_minor(account.held, account.asset.scale)


class PostingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    account = serializers.IntegerField(source="account_id")
    account_kind = serializers.CharField(source="account.kind")
    organization = serializers.IntegerField(source="account.organization_id", allow_null=True)
    asset = serializers.CharField(source="asset.code")
    bucket = serializers.SerializerMethodField()
    amount = serializers.SerializerMethodField(help_text="signed decimal string")

    def get_bucket(self, posting) -> str:
        return Bucket(posting.bucket).label

    def get_amount(self, posting) -> str:
        return from_minor(posting.amount, posting.asset.scale)


class StatementLineSerializer(PostingSerializer):
    transaction = serializers.IntegerField(source="transaction_id")
    created_at = serializers.DateTimeField(source="transaction.created_at")
    kind = serializers.CharField(source="transaction.kind")
    reference_type = serializers.CharField(source="transaction.reference_type")
    reference_id = serializers.CharField(source="transaction.reference_id")


class TransactionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    created_at = serializers.DateTimeField()
    reference_type = serializers.CharField()
    reference_id = serializers.CharField()
    actor_organization = serializers.IntegerField(source="actor_organization_id", allow_null=True)
    memo = serializers.JSONField()
    postings = PostingSerializer(many=True, source="postings.all")


class CheckpointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    tree_size = serializers.IntegerField()
    root_hash = serializers.SerializerMethodField()
    previous_hash = serializers.SerializerMethodField()
    checkpoint_hash = serializers.SerializerMethodField()
    xid_horizon = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    signature = serializers.CharField(help_text="hex Ed25519 signature of signed_body by the key `key_id` "
                                                "(GET /api/v1/checkpoints/public-keys); HMAC-SHA256 when key_id "
                                                "is legacy-hmac")
    key_id = serializers.CharField(help_text="the signing key's id")
    signed_body = serializers.SerializerMethodField(help_text="the exact bytes signed and hashed (UTF-8)")

    def get_root_hash(self, cp) -> str:
        return bytes(cp.root_hash).hex()

    def get_previous_hash(self, cp) -> str:
        return bytes(cp.previous_hash).hex()

    def get_checkpoint_hash(self, cp) -> str:
        return bytes(cp.checkpoint_hash).hex()

    def get_signed_body(self, cp) -> str:
        return checkpoint_signed_body(cp).decode()


class InclusionProofSerializer(serializers.Serializer):
    leaf_index = serializers.IntegerField()
    leaf_hash = serializers.CharField(help_text="hex SHA-256(0x00 ‖ canonical)")
    tree_size = serializers.IntegerField()
    root_hash = serializers.CharField(help_text="hex")
    audit_path = serializers.ListField(child=serializers.CharField(), help_text="hex node hashes, leaf to root")
    checkpoint = CheckpointSerializer()


class TransactionDetailSerializer(TransactionSerializer):
    canonical = serializers.CharField(help_text="the canonical bytes (UTF-8 JSON) hashed into the leaf")
    sealed = serializers.BooleanField()
    proof = InclusionProofSerializer(allow_null=True, help_text="null until the transaction is sealed")


class ConsistencyProofSerializer(serializers.Serializer):
    from_tree_size = serializers.IntegerField()
    from_root_hash = serializers.CharField()
    to_tree_size = serializers.IntegerField()
    to_root_hash = serializers.CharField()
    proof = serializers.ListField(child=serializers.CharField(), help_text="hex node hashes (RFC 6962 §2.1.2)")


class FaultSerializer(serializers.Serializer):
    kind = serializers.CharField()
    transaction_id = serializers.IntegerField(allow_null=True)
    detail = serializers.CharField()


class VerifyReportSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    fault = FaultSerializer(allow_null=True)
    transactions = serializers.IntegerField()
    sealed = serializers.IntegerField()
    checkpoints = serializers.IntegerField()
    accounts = serializers.IntegerField()
    legacy_unverified = serializers.IntegerField(help_text="HMAC checkpoints from before Ed25519 whose "
                                                           "signature was not checked (no legacy secret)")


class SigningKeySerializer(serializers.Serializer):
    key_id = serializers.CharField(help_text="first 16 hex digits of SHA-256 over the raw public key")
    algorithm = serializers.CharField(help_text="ed25519")
    public_key_pem = serializers.SerializerMethodField(help_text="SubjectPublicKeyInfo PEM")
    public_key_hex = serializers.SerializerMethodField(help_text="the raw 32-byte public key, hex")
    valid_from = serializers.DateTimeField(help_text="first checkpoint signed with it")
    valid_until = serializers.DateTimeField(allow_null=True, help_text="null while it is the current key")

    def get_public_key_pem(self, key) -> str:
        return public_pem(bytes(key.public_key))

    def get_public_key_hex(self, key) -> str:
        return bytes(key.public_key).hex()



class MovementRequestSerializer(serializers.Serializer):
    """A maker–checker request (`ledger.movements`): amounts as decimal strings in the asset's scale."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    asset = serializers.CharField(source="asset.code")
    amount = serializers.SerializerMethodField()
    request = serializers.SerializerMethodField()
    issuer = serializers.IntegerField(source="issuer_id", allow_null=True)
    organizations = serializers.ListField(source="subject_organization_ids", child=serializers.IntegerField())
    proposed_by = serializers.IntegerField(source="proposed_by_id")
    proposer_organization = serializers.IntegerField(source="proposer_organization_id")
    created_at = serializers.DateTimeField()
    decided_by = serializers.IntegerField(source="decided_by_id", allow_null=True)
    decided_by_organization = serializers.IntegerField(source="decided_by_organization_id", allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()
    transaction = serializers.IntegerField(source="transaction_id", allow_null=True)

    def get_amount(self, obj) -> str:
        return from_minor(obj.amount, obj.asset.scale)

    def get_request(self, obj) -> dict:
        return {**obj.request, "amount": from_minor(obj.amount, obj.asset.scale)}


class MovementRejectInput(StrictSerializer):
    reason = serializers.CharField(max_length=200)
