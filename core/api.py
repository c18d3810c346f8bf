"""Shared API building blocks: pagination, strict input serializers, the error envelope's schema,
decimal ↔ minor-unit fields (the arithmetic itself is `core.money`)."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import IsoDateTimeFilter
from rest_framework import renderers, serializers
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.utils import encoders

from .errors import message_for
from .money import from_minor, to_minor


class DefaultPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class IdCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class StrictSerializer(serializers.Serializer):
    """An input serializer that refuses fields it does not know (typos must not be silently dropped)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = set(data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {name: [serializers.ErrorDetail(message_for("unknown_field"), code="unknown_field")]
                     for name in sorted(unknown)}
                )
        return super().to_internal_value(data)


class FieldErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorEnvelopeSerializer(serializers.Serializer):
    """The body of every 4xx (see core.errors), for the OpenAPI schema."""

    code = serializers.CharField(help_text="stable error code, listed in core.errors.CODES")
    message = serializers.CharField(help_text="in the request's language (Accept-Language: zh-hans or en)")
    fields = serializers.DictField(child=FieldErrorSerializer(many=True),
                                   help_text="field name → errors, for field errors")
    request_id = serializers.CharField(required=False)


def error_responses(*statuses: int) -> dict:
    """`extend_schema(responses=...)` entries documenting the error envelope for the given statuses."""
    return {status: ErrorEnvelopeSerializer for status in statuses}


class MinorUnitField(serializers.CharField):
    """A decimal string at the edge, integer minor units inside. `scale` may be an int or a callable
    taking the serializer's context (for per-asset scales validated in the serializer's `validate`)."""

    # the project's own field messages go through gettext (locale/zh_Hans); codes stay core.errors' table
    default_error_messages = {
        "invalid": gettext_lazy("Enter a decimal number as a string, e.g. \"12.50\"."),
        # the code of the one error table (core.errors), so that the envelope names it
        "too_many_decimals": gettext_lazy("Ensure there are no more than {scale} decimal places."),
        "positive": gettext_lazy("Must be greater than zero."),
        "too_large": gettext_lazy("Value is too large."),
    }

    def __init__(self, *, scale: int | None = None, positive: bool = True, **kwargs):
        self.scale = scale
        self.positive = positive
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            self.fail("invalid")
        text = super().to_internal_value(str(data)).strip()
        if len(text) > 40:  # checked here: CharField's max_length validator would run on the converted number
            self.fail("invalid")
        try:
            value = Decimal(text)
        except InvalidOperation:
            self.fail("invalid")
        if not value.is_finite():
            self.fail("invalid")
        if self.positive and value <= 0:
            self.fail("positive")
        if self.scale is None:
            return value  # the serializer converts once it knows the asset's scale
        try:
            minor = to_minor(value, self.scale)
        except ValueError:
            self.fail("too_many_decimals", scale=self.scale)
        if abs(minor) >= 2**62:
            self.fail("too_large")
        return minor

    def to_representation(self, value):
        if self.scale is None or not isinstance(value, int):
            return str(value)
        return from_minor(value, self.scale)


def decimal_to_minor_or_error(value: Decimal, scale: int, field: str) -> int:
    try:
        minor = to_minor(value, scale)
    except ValueError:
        raise serializers.ValidationError(
            {field: [serializers.ErrorDetail(_("Ensure there are no more than {scale} decimal places.").format(
                scale=scale), code="too_many_decimals")]}
        )
    if abs(minor) >= 2**62:
        raise serializers.ValidationError({field: [serializers.ErrorDetail(_("Value is too large."),
                                                                           code="too_large")]})
    return minor


class UtcIsoDateTimeFilter(IsoDateTimeFilter):
    """An ISO 8601 time filter that hands PostgreSQL UTC: any offset Python accepts (up to ±23:59) is
    valid input, while PostgreSQL refuses offsets beyond ±15:59."""

    def filter(self, qs, value):
        if value is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError:
                raise serializers.ValidationError(
                    {self.field_name: [serializers.ErrorDetail(_("time out of range"), code="invalid")]})
        return super().filter(qs, value)


class LocalTimeJSONEncoder(encoders.JSONEncoder):
    """One time format in every JSON response: ISO 8601 in Asia/Shanghai with its offset (`+08:00`), as the
    serializers' DateTimeField writes them; dicts built by hand (dossiers, reports) would otherwise carry
    UTC `Z` (README, API conventions)."""

    def default(self, obj):
        if isinstance(obj, datetime) and timezone.is_aware(obj):
            obj = timezone.localtime(obj)
        return super().default(obj)


class JSONRenderer(renderers.JSONRenderer):
    encoder_class = LocalTimeJSONEncoder
