"""Input and output serializers of the accounts API. Inputs subclass `StrictSerializer` (unknown fields
are refused) and only validate shape and references; the services make the changes. Outputs are plain
serializers used for rendering and for the OpenAPI schema."""
from __future__ import annotations

from rest_framework import serializers

from core.api import StrictSerializer
from core.errors import message_for

from .models import Organization, OrganizationKind, OrganizationStatus, Region, Role
from .uscc import is_valid_uscc

MAX_ID = 2**63 - 1  # ids beyond bigint never exist; refuse them before they reach the database


def _error(code: str) -> serializers.ValidationError:
    # the message of a registered code, in the request's language (validation runs inside the request)
    return serializers.ValidationError(serializers.ErrorDetail(message_for(code), code=code))


class RegionCodeField(serializers.CharField):
    """A GB/T 2260 code of a division we know; returns the code. Malformed codes are unknown codes."""

    def run_validation(self, data=serializers.empty):
        value = super().run_validation(data)
        if value in (None, ""):
            return value
        if not (len(value) == 6 and value.isascii() and value.isdigit()) or not Region.objects.filter(
                code=value).exists():
            raise _error("unknown_region")
        return value


class UsccField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 18)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data).upper()
        if not is_valid_uscc(value):
            raise _error("invalid_uscc")
        return value


# --- outputs -----------------------------------------------------------------------------------------

class BasinRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()


class RegionSerializer(serializers.Serializer):
    code = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    level = serializers.ChoiceField(choices=Region._meta.get_field("level").choices)
    parent = serializers.CharField(source="parent_id", allow_null=True)
    zone = serializers.CharField(allow_blank=True)
    basins = serializers.SerializerMethodField()

    def get_basins(self, obj) -> list[str]:
        return [b.code for b in obj.basins.all()]


class BasinSerializer(BasinRefSerializer):
    regions = serializers.SerializerMethodField()

    def get_regions(self, obj) -> list[str]:
        return [r.code for r in obj.regions.all()]


class OrganizationPublicSerializer(serializers.Serializer):
    """Directory fields every participant sees."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=OrganizationKind.choices)
    name_zh = serializers.CharField()
    name_en = serializers.CharField(allow_blank=True)
    region = serializers.CharField(source="region_id")
    uscc = serializers.CharField()
    status = serializers.ChoiceField(choices=OrganizationStatus.choices)
    jurisdiction = serializers.CharField(source="jurisdiction_id", allow_null=True)


class OrganizationSerializer(OrganizationPublicSerializer):
    """Directory fields plus, for those allowed to see them (`context["sees_private"](org)`), the
    non-public ones, which are otherwise left out of the object."""

    PRIVATE = ("parent", "discharge_permit_no", "created_at")

    parent = serializers.IntegerField(source="parent_id", allow_null=True, required=False,
                                      help_text="only for the operator, the organization itself and its overseers")
    discharge_permit_no = serializers.CharField(allow_blank=True, required=False,
                                                help_text="only for the operator, the organization itself "
                                                          "and its overseers")
    created_at = serializers.DateTimeField(required=False,
                                           help_text="only for the operator, the organization itself and "
                                                     "its overseers")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        sees_private = self.context.get("sees_private")
        if sees_private is None or not sees_private(instance):
            for name in self.PRIVATE:
                data.pop(name, None)
        return data


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField(allow_blank=True)
    email = serializers.EmailField(allow_blank=True)


class MembershipSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.ChoiceField(choices=Role.choices)
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    user = UserSerializer()
    organization = OrganizationPublicSerializer()


class MyMembershipSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.ChoiceField(choices=Role.choices)
    is_active = serializers.BooleanField()
    organization = OrganizationPublicSerializer()


class TokenInfoSerializer(serializers.Serializer):
    prefix = serializers.CharField()
    expires_at = serializers.DateTimeField()


class MeSerializer(serializers.Serializer):
    user = UserSerializer()
    memberships = MyMembershipSerializer(many=True, help_text="all of the user's memberships")
    acting = MyMembershipSerializer(help_text="the membership this token acts for")
    token = TokenInfoSerializer()


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="send as `Authorization: Bearer <token>`; shown only once")
    expires_at = serializers.DateTimeField()
    membership = MyMembershipSerializer()


# --- inputs ------------------------------------------------------------------------------------------

class LoginInputSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
    organization = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID,
        help_text="id of the organization to act for; optional when the user has exactly one active membership",
    )


class EmptyInputSerializer(StrictSerializer):
    """No fields; an empty body or {} is accepted."""


class OrganizationCreateInputSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=OrganizationKind.choices)
    name_zh = serializers.CharField(max_length=120)
    name_en = serializers.CharField(max_length=160, required=False, allow_blank=True, default="")
    region = RegionCodeField()
    uscc = UsccField()
    jurisdiction = RegionCodeField(required=False, allow_null=True, default=None,
                                   help_text="regulators only: the region they supervise")
    parent = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1,
                                      max_value=MAX_ID)
    discharge_permit_no = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")

    def validate_parent(self, value):
        if value is not None and not Organization.objects.filter(pk=value).exists():
            raise _error("invalid_parent")
        return value


class OrganizationUpdateInputSerializer(OrganizationCreateInputSerializer):
    """Partial update of directory data; `kind` and `status` are not editable (status has actions)."""

    def __init__(self, *args, **kwargs):
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)
        self.fields.pop("kind")


class OrganizationStatusInputSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500)


class MembershipCreateInputSerializer(StrictSerializer):
    organization = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID,
        help_text="defaults to the acting organization; only the exchange operator's admins name another",
    )
    role = serializers.ChoiceField(choices=Role.choices)
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        required=False, max_length=4096, trim_whitespace=False, style={"input_type": "password"},
        help_text="given: create a new user with this password; left out: attach the existing user",
    )
    display_name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if "password" not in attrs and (attrs.get("display_name") or attrs.get("email")):
            raise serializers.ValidationError(
                {"display_name": [serializers.ErrorDetail("only when creating a user (with password)",
                                                          code="invalid")]})
        return attrs


class MembershipUpdateInputSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)
