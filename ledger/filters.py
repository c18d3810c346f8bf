"""Query-string filters of the ledger list endpoints (django-filter). A filter naming an asset that does
not exist is a 400 `unknown_asset`, never an empty page that hides a typo."""
from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from core.api import UtcIsoDateTimeFilter

from .errors import UNKNOWN_ASSET
from .models import Asset, Posting


class AssetCodeFormField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if value and not Asset.objects.filter(code=value).exists():
            raise ValidationError(gettext("unknown asset"), code=UNKNOWN_ASSET)
        return value


class AssetCodeFilter(django_filters.CharFilter):
    field_class = AssetCodeFormField


class AssetFilter(django_filters.FilterSet):
    right_type = django_filters.CharFilter(field_name="right_type_id")
    subtype = django_filters.CharFilter()
    vintage = django_filters.NumberFilter()
    origin_region = django_filters.CharFilter(field_name="origin_region_id")
    kind = django_filters.CharFilter()

    class Meta:
        model = Asset
        fields = ["right_type", "subtype", "vintage", "origin_region", "kind"]


class _StatementMeta:
    model = Posting
    fields: list[str] = []  # the declared filters only


# `from` is a Python keyword, so the filter set is assembled from a dict
StatementFilter = type(django_filters.FilterSet)("StatementFilter", (django_filters.FilterSet,), {
    "__module__": __name__,
    "__doc__": "since/until: transaction time (ISO 8601, since inclusive, until exclusive; from/to are their "
               "deprecated old names); asset: asset code; "
               "kind: transaction kind (issue, deposit, withdraw, hold, release, transfer, retire, expire, settle…)",
    "since": UtcIsoDateTimeFilter(field_name="transaction__created_at", lookup_expr="gte",
                                  help_text="transaction time, inclusive (ISO 8601)"),
    "until": UtcIsoDateTimeFilter(field_name="transaction__created_at", lookup_expr="lt",
                                  help_text="transaction time, exclusive (ISO 8601)"),
    "from": UtcIsoDateTimeFilter(field_name="transaction__created_at", lookup_expr="gte",
                                 help_text="deprecated: the old name of since"),
    "to": UtcIsoDateTimeFilter(field_name="transaction__created_at", lookup_expr="lt",
                               help_text="deprecated: the old name of until"),
    "asset": AssetCodeFilter(field_name="asset__code", help_text="asset code (unknown codes: 400 unknown_asset)"),
    "kind": django_filters.CharFilter(field_name="transaction__kind",
                                      help_text="transaction kind: issue, deposit, withdraw, hold, release, "
                                                "transfer, retire, expire, settle, …"),
    "Meta": _StatementMeta,
})
