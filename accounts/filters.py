"""Query-string filters of the accounts list endpoints (django-filter). Bad filter values are 400s with
field errors (`unknown_region` for a region code we do not know), never an empty page that hides a typo."""
from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError

from core.errors import message_for

from .models import (
    Basin,
    Membership,
    Organization,
    OrganizationKind,
    OrganizationStatus,
    Region,
    RegionLevel,
    Role,
)

MAX_ID = 2**63 - 1


class RegionCodeFormField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if value in (None, ""):
            return value
        if not (len(value) == 6 and value.isascii() and value.isdigit()) or not Region.objects.filter(
                code=value).exists():
            raise ValidationError(message_for("unknown_region"), code="unknown_region")
        return value


class RegionCodeFilter(django_filters.CharFilter):
    field_class = RegionCodeFormField


class IdFilter(django_filters.NumberFilter):
    """An integer id; out-of-range and fractional values are refused rather than sent to the database."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class RegionFilter(django_filters.FilterSet):
    level = django_filters.ChoiceFilter(choices=RegionLevel.choices)
    zone = django_filters.CharFilter(max_length=20)
    basin = django_filters.ModelChoiceFilter(field_name="basins", queryset=Basin.objects.all(), to_field_name="code")
    parent = RegionCodeFilter(field_name="parent_id")

    class Meta:
        model = Region
        fields = ("level", "zone", "basin", "parent")


class OrganizationFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=OrganizationKind.choices)
    status = django_filters.ChoiceFilter(choices=OrganizationStatus.choices)
    region = RegionCodeFilter(method="filter_region",
                              help_text="a division code: organizations located in it or anywhere below it")
    uscc = django_filters.CharFilter(max_length=18)

    class Meta:
        model = Organization
        fields = ("kind", "status", "region", "uscc")

    def filter_region(self, queryset, name, value):
        region = Region.objects.get(code=value)
        return queryset.filter(region__code__startswith=region.prefix)


class MembershipFilter(django_filters.FilterSet):
    organization = IdFilter(field_name="organization_id")
    user = IdFilter(field_name="user_id")
    role = django_filters.ChoiceFilter(choices=Role.choices)
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Membership
        fields = ("organization", "user", "role", "is_active")
