"""Read-side queries for accounts: what the acting membership may see. Views never build querysets
for these models themselves, so visibility rules live here and only here.

* Regions and basins are reference data: every member sees all of them.
* Organizations form a public directory: every member sees every organization's directory fields;
  the non-public fields (`organization_sees_private`) only the exchange operator, the organization
  itself and a regulator or government whose region covers it.
* Memberships: an organization's admins see their own organization's; the operator's admins see all.
"""
from __future__ import annotations

from django.db.models import QuerySet

from .models import GOVERNMENT_KINDS, Basin, Membership, Organization, Region
from .permissions import covers_region, is_operator, is_operator_admin


def region_list() -> QuerySet[Region]:
    return Region.objects.select_related("parent").prefetch_related("basins").order_by("code")


def basin_list() -> QuerySet[Basin]:
    return Basin.objects.prefetch_related("regions").order_by("code")


def region_in(code: str) -> QuerySet[Region]:
    """Regions lying in (or equal to) the region `code`; empty when it does not exist."""
    region = Region.objects.filter(code=code).first()
    if region is None:
        return Region.objects.none()
    return Region.objects.filter(code__startswith=region.prefix)


def organization_list(*, membership: Membership) -> QuerySet[Organization]:
    # every member sees the directory; the serializer decides per object which fields it shows
    return Organization.objects.select_related("region", "jurisdiction").order_by("id")


def organization_sees_private(*, membership: Membership, organization: Organization) -> bool:
    if is_operator(membership) or membership.organization_id == organization.pk:
        return True
    if membership.organization.kind == "regulator" or membership.organization.kind in GOVERNMENT_KINDS:
        return covers_region(membership, organization.region_id)
    return False


def membership_list(*, membership: Membership) -> QuerySet[Membership]:
    qs = Membership.objects.select_related("user", "organization", "organization__region").order_by("id")
    if is_operator_admin(membership):
        return qs
    if membership.role == "admin":
        return qs.filter(organization_id=membership.organization_id)
    return qs.none()


def memberships_of_user(*, user_id: int) -> QuerySet[Membership]:
    return (Membership.objects.select_related("organization", "organization__region", "organization__jurisdiction")
            .filter(user_id=user_id).order_by("id"))


def pending_invitations_of(*, membership: Membership, organization_id: int):
    """An organization's pending invitations, to whoever may list its members (`membership_list`'s rule)."""
    from .models import InvitationStatus, MembershipInvitation

    if not membership_list(membership=membership).filter(organization_id=organization_id).exists() \
            and not is_operator_admin(membership):
        return MembershipInvitation.objects.none()
    return (MembershipInvitation.objects.select_related("user")
            .filter(organization_id=organization_id, status=InvitationStatus.PENDING).order_by("-id"))
