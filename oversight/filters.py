"""Query-string filters of the oversight lists. A bad region code is a 400 (`unknown_region`), never an
empty page that hides a typo."""
from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext

from accounts.models import AuditEvent, Region
from core.api import UtcIsoDateTimeFilter
from ledger.models import Asset
from trading.models import Trade, TradeSource, TradeStatus

from .models import Alert, AlertKind, ApprovalRequest, ApprovalStatus


class RegionCodeField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if value in (None, ""):
            return None
        well_formed = len(value) == 6 and value.isascii() and value.isdigit()
        region = Region.objects.filter(code=value).first() if well_formed else None
        if region is None:
            raise ValidationError(gettext("unknown region code"), code="unknown_region")
        return region.prefix


class RegionFilter(django_filters.CharFilter):
    """A region code; filters on every code the region contains (a city: its counties)."""

    field_class = RegionCodeField


class TradeFilter(django_filters.FilterSet):
    right_type = django_filters.CharFilter(method="filter_right_type")
    subtype = django_filters.CharFilter(method="filter_subtype")
    asset = django_filters.NumberFilter(field_name="asset_id")
    origin = RegionFilter(method="filter_origin", help_text="instrument's origin region (contains)")
    destination = RegionFilter(method="filter_destination", help_text="buyer's region (contains)")
    seller_region = RegionFilter(method="filter_seller_region")
    participant = django_filters.NumberFilter(method="filter_participant", help_text="buyer or seller id")
    buyer = django_filters.NumberFilter(field_name="buyer_id")
    seller = django_filters.NumberFilter(field_name="seller_id")
    status = django_filters.MultipleChoiceFilter(choices=TradeStatus.choices)
    source = django_filters.ChoiceFilter(choices=TradeSource.choices)
    market = django_filters.NumberFilter(field_name="market_id")
    since = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Trade
        fields = []

    def _assets(self, qs, **lookup):
        return qs.filter(Exists(Asset.objects.filter(pk=OuterRef("asset_id"), **lookup)))

    def filter_right_type(self, qs, name, value):
        return self._assets(qs, right_type_id=value)

    def filter_subtype(self, qs, name, value):
        return self._assets(qs, subtype__iexact=value)

    def filter_origin(self, qs, name, value):
        return self._assets(qs, origin_region__code__startswith=value) if value else qs

    def filter_destination(self, qs, name, value):
        return qs.filter(buyer__region__code__startswith=value) if value else qs

    def filter_seller_region(self, qs, name, value):
        return qs.filter(seller__region__code__startswith=value) if value else qs

    def filter_participant(self, qs, name, value):
        return qs.filter(Q(buyer_id=value) | Q(seller_id=value))


class AuditFilter(django_filters.FilterSet):
    action = django_filters.CharFilter(method="filter_action",
                                       help_text="exact action, or a prefix ending in '.' (e.g. 'order.')")
    object_type = django_filters.CharFilter()
    object_id = django_filters.CharFilter()
    actor_user = django_filters.NumberFilter(field_name="actor_user_id")
    actor_organization = django_filters.NumberFilter(field_name="actor_organization_id")
    since = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = []

    def filter_action(self, qs, name, value):
        return qs.filter(action__startswith=value) if value.endswith(".") else qs.filter(action=value)


class ApprovalFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ApprovalStatus.choices)
    jurisdiction = django_filters.CharFilter()
    trade = django_filters.NumberFilter(field_name="trade_id")

    class Meta:
        model = ApprovalRequest
        fields = []


class AlertFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=AlertKind.choices)
    severity = django_filters.CharFilter()
    since = UtcIsoDateTimeFilter(field_name="detected_at", lookup_expr="gte")
    until = UtcIsoDateTimeFilter(field_name="detected_at", lookup_expr="lt")
    organization = django_filters.NumberFilter(method="filter_organization")

    class Meta:
        model = Alert
        fields = []

    def filter_organization(self, qs, name, value):
        return qs.filter(organization_ids__contains=[int(value)])
