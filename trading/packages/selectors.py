"""Reads of package bids: an organization's own packages (newest first), with their legs."""
from django.db.models import QuerySet

from trading.models import Package


def packages_of(organization_id: int) -> QuerySet[Package]:
    return (Package.objects.filter(organization_id=organization_id)
            .prefetch_related("legs__market").order_by("-id"))
