"""Shared API building blocks: pagination, strict input serializers, the error envelope's schema,
decimal ↔ minor-unit fields (the arithmetic itself is `core.money`)."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import IsoDateTimeFilter
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination, PageNumberPagination

from .errors import DomainError, message_for
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


# The paging rule (README "API conventions"): a collection that grows with activity (orders, trades, listings,
# postings, audit, alerts, approvals, requests, deliveries, checkpoints) pages by cursor — stable under inserts,
# no deep OFFSET; a directory bounded by the register (regions, assets, markets, organizations, memberships,
# holdings) by page number, with a count; market-data windows take `limit`; bounded lists are not paged.
# The lists that changed style keep the other one for one release when asked for it by name (deprecated in
# the schema): `?page=` on a cursor list, `?cursor=` on a page list.

def _deprecated_param(name: str, description: str, type_: str = "integer") -> dict:
    return {"name": name, "required": False, "in": "query", "deprecated": True, "description": description,
            "schema": {"type": type_}}


class GrowingPagination(IdCursorPagination):
    """Cursor paging for a collection that grows with activity; `?page=` (page-number paging, the style of
    this list until 2026-12) still works for one release."""

    def paginate_queryset(self, queryset, request, view=None):
        self.legacy = DefaultPagination() if request.query_params.get("page") not in (None, "") else None
        if self.legacy is not None:
            return self.legacy.paginate_queryset(queryset, request, view)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        if getattr(self, "legacy", None) is not None:
            return self.legacy.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_schema_operation_parameters(self, view):
        return [*super().get_schema_operation_parameters(view), _deprecated_param(
            "page", "Deprecated (one release): page-number paging of this list; use `cursor`.")]


class DirectoryPagination(DefaultPagination):
    """Page-number paging for a directory bounded by the register; `?cursor=` (the style of this list until
    2026-12) still works for one release."""

    def paginate_queryset(self, queryset, request, view=None):
        self.legacy = IdCursorPagination() if request.query_params.get("cursor") not in (None, "") else None
        if self.legacy is not None:
            return self.legacy.paginate_queryset(queryset, request, view)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        if getattr(self, "legacy", None) is not None:
            return self.legacy.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_schema_operation_parameters(self, view):
        return [*super().get_schema_operation_parameters(view), _deprecated_param(
            "cursor", "Deprecated (one release): cursor paging of this list; use `page`.", "string")]


class StrictOrderingFilter(OrderingFilter):
    """`?ordering=field,-field` over the view's whitelist `ordering_fields` (plain columns, never null, so
    that cursor paging can use them); `id` is appended as the tie-breaker, in the direction of the first
    field, so that equal values keep one order across pages. An unknown field is 400 `invalid_ordering`
    (DRF's filter drops it silently). Without `ordering` the view's `ordering` (its documented order)."""

    def get_ordering(self, request, queryset, view):
        raw = request.query_params.get(self.ordering_param)
        if raw is None:
            return self.get_default_ordering(view)
        terms = [t.strip() for t in raw.split(",") if t.strip()]
        allowed = list(getattr(view, "ordering_fields", None) or ())
        wrong = [t for t in terms if t.lstrip("-") not in allowed or t.startswith("--")]
        if not terms or wrong:
            raise DomainError("invalid_ordering", fields={self.ordering_param: message_for(
                "invalid_ordering", field=(wrong or [raw])[0], allowed=", ".join(allowed))},
                field=(wrong or [raw])[0], allowed=", ".join(allowed))
        if not any(t.lstrip("-") == "id" for t in terms):
            terms.append("-id" if terms[0].startswith("-") else "id")
        return terms

    def get_schema_operation_parameters(self, view):
        fields = list(getattr(view, "ordering_fields", None) or ())
        default = ",".join(self.get_default_ordering(view))
        return [{
            "name": self.ordering_param, "required": False, "in": "query", "style": "form", "explode": False,
            "description": f"Sort by these fields, comma-separated, `-` for descending (default `{default}`); "
                           "ties are broken by id. Any other field: 400 `invalid_ordering`.",
            "schema": {"type": "array", "items": {"type": "string",
                                                  "enum": [v for f in fields for v in (f, f"-{f}")]}},
        }]

    def get_default_ordering(self, view):
        ordering = getattr(view, "ordering", None)
        if isinstance(ordering, str):
            return (ordering,)
        return tuple(ordering) if ordering else ("-id",)


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


# The one shape of a number at the edge (README: exact numbers): ASCII digits, an optional minus sign and
# fraction. Decimal() and str.isdigit() also take "1e3", "1_000", " 2", "+2", "NaN", full-width "１０" and
# Arabic-Indic "١٢"; none of those is an amount here. JSON numbers are refused too: amounts are strings.
DECIMAL_STRING = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)
MAX_DECIMAL_TEXT = 40
# Every stored amount stays below 2**62 minor units, so that the sum of two never overflows a bigint.
MAX_MINOR = 2**62 - 1


def parse_decimal_string(data) -> Decimal | None:
    """The Decimal of a strict decimal string, or None for anything else (numbers, other shapes)."""
    if not isinstance(data, str) or len(data) > MAX_DECIMAL_TEXT or not DECIMAL_STRING.fullmatch(data):
        return None
    return Decimal(data)


def amount_cap(unit: str | None, scale: int) -> tuple[int, str]:
    """(cap in minor units, cap as text) for an asset's unit (settings.AMOUNT_CAPS)."""
    caps = settings.AMOUNT_CAPS
    whole = Decimal(str(caps.get(unit or "*", caps["*"])))
    return min(int(whole.scaleb(scale)), MAX_MINOR), f"{whole:f} {unit or ''}".strip()


def _out_of_range(limit: str) -> serializers.ErrorDetail:
    return serializers.ErrorDetail(f"{message_for('amount_out_of_range')} (≤ {limit})", code="amount_out_of_range")


def amount_out_of_range(field: str, limit: str) -> serializers.ValidationError:
    return serializers.ValidationError({field: [_out_of_range(limit)]})


def check_amount(minor: int, *, scale: int, unit: str | None, field: str) -> int:
    """Refuse an amount beyond its unit's plausibility cap (and the bigint-safe range)."""
    cap, text = amount_cap(unit, scale)
    if abs(minor) > cap:
        raise amount_out_of_range(field, text)
    return minor


class MinorUnitField(serializers.CharField):
    """A decimal string at the edge, integer minor units inside. `scale` may be an int or None (the
    serializer converts with `decimal_to_minor_or_error` once it knows the asset); `unit` names the
    plausibility cap (settings.AMOUNT_CAPS) applied when the field converts itself."""

    # the project's own field messages go through gettext (locale/zh_Hans); codes stay core.errors' table
    default_error_messages = {
        # the codes of the one error table (core.errors), so that the envelope names them
        "invalid_number": gettext_lazy("Enter a decimal number as a string of ASCII digits, e.g. \"12.50\"."),
        "too_many_decimals": gettext_lazy("Ensure there are no more than {scale} decimal places."),
        "positive": gettext_lazy("Must be greater than zero."),
    }

    def __init__(self, *, scale: int | None = None, positive: bool = True, unit: str | None = None, **kwargs):
        self.scale = scale
        self.positive = positive
        self.unit = unit
        super().__init__(**kwargs)

    def run_validation(self, data=serializers.empty):
        if isinstance(data, str) and not data.strip():
            self.fail("invalid_number")  # CharField would call it `blank`: it is just another bad shape
        return super().run_validation(data)

    def to_internal_value(self, data):
        value = parse_decimal_string(data)
        if value is None:
            self.fail("invalid_number")
        if self.positive and value <= 0:
            self.fail("positive")
        if self.scale is None:
            return value  # the serializer converts once it knows the asset's scale
        try:
            minor = to_minor(value, self.scale)
        except ValueError:
            self.fail("too_many_decimals", scale=self.scale)
        cap, text = amount_cap(self.unit, self.scale)
        if abs(minor) > cap:
            raise serializers.ValidationError([_out_of_range(text)])
        return minor

    def to_representation(self, value):
        if self.scale is None or not isinstance(value, int):
            return str(value)
        return from_minor(value, self.scale)


def decimal_to_minor_or_error(value: Decimal, scale: int, field: str, *, unit: str | None = None) -> int:
    """A Decimal from MinorUnitField(scale=None) → minor units of an asset with `scale` places, checked
    against the cap of its `unit` (settings.AMOUNT_CAPS; "*" when the unit is not given)."""
    try:
        minor = to_minor(value, scale)
    except ValueError:
        raise serializers.ValidationError(
            {field: [serializers.ErrorDetail(_("Ensure there are no more than {scale} decimal places.").format(
                scale=scale), code="too_many_decimals")]}
        )
    return check_amount(minor, scale=scale, unit=unit, field=field)


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



# --- times at the edge (README "API conventions": one format) ---------------------------------------------
# Every time the API hands out is ISO 8601 in settings.TIME_ZONE (Asia/Shanghai) with its offset, as DRF's
# DateTimeField writes it: "2026-12-06T12:37:18.188013+08:00". Hand-built responses call these instead of
# leaving datetimes to DRF's encoder (which writes UTC "Z"). Presentation only: never for a value that feeds
# a hash, a signature or a canonical form (ledger.canonical keeps UTC "Z" for the leaves).
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})", re.ASCII)


def local_time(value: datetime | None) -> str | None:
    """An aware datetime as the API writes times (None stays None)."""
    if value is None:
        return None
    return timezone.localtime(value).isoformat()


def local_times(value):
    """`value` with every datetime, and every ISO 8601 time string that carries an offset or Z (JSON stored
    by an earlier write: audit `after`, alert evidence), rewritten as `local_time` — the same instant.
    Dicts and lists are copied; anything else is returned as it is."""
    if isinstance(value, datetime):
        return local_time(value) if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, str):
        if len(value) <= 40 and _ISO_TIME.fullmatch(value):
            try:
                return local_time(datetime.fromisoformat(value))
            except ValueError:
                return value
        return value
    if isinstance(value, dict):
        return {key: local_times(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [local_times(item) for item in value]
    return value


class LocalTimesJSONField(serializers.JSONField):
    """A JSON field (audit `before`/`after`, alert evidence) presented with its times in the API's format."""

    def to_representation(self, value):
        return local_times(super().to_representation(value))


# the filter backends of a list that offers `ordering` (its view sets `ordering_fields` and `ordering`)
ORDERED_LIST_BACKENDS = [DjangoFilterBackend, StrictOrderingFilter]
