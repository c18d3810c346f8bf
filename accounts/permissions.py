"""Permission classes: role × organization kind × object ownership.

`IsMember` is the default for every API view: an authenticated token with an active membership. A
suspended organization's members may still read (their holdings, their history) but every write is
refused with `organization_suspended`; a view that must stay writable for them (logout) sets
`allow_suspended_organization = True`.

`member_with(roles=..., kinds=...)` builds a class that also checks the acting membership's role and
organization kind. Object ownership is enforced by querysets (selectors return only what the acting
organization may see), so another organization's object is a 404, never a 403 that confirms it exists.

Regional oversight: `oversight_region(membership)` is the region an organization answers for (a
regulator's jurisdiction, a government's own division, the whole province for the exchange operator)
and `covers_region(membership, code)` tests a division code against it with `Region.covers`.
"""
from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from core.errors import ApiError

from .models import GOVERNMENT_KINDS, ApiToken, Membership, Region

TRADING_ROLES = ("admin", "trader")
ALL_ROLES = ("admin", "trader", "approver", "viewer")
OPERATOR_KIND = "exchange_operator"


def acting_membership(request) -> Membership | None:
    token = getattr(request, "auth", None)
    return token.membership if isinstance(token, ApiToken) else None


def is_operator(membership: Membership | None) -> bool:
    return membership is not None and membership.organization.kind == OPERATOR_KIND


def is_operator_admin(membership: Membership | None) -> bool:
    return is_operator(membership) and membership.role == "admin"


def oversight_region(membership: Membership | None) -> Region | None:
    """The region whose organizations this membership's organization oversees, or None."""
    if membership is None:
        return None
    org = membership.organization
    if org.kind == "regulator":
        return org.jurisdiction
    if org.kind in GOVERNMENT_KINDS:
        return org.region
    if org.kind == OPERATOR_KIND:
        # the exchange serves the whole province its own seat belongs to
        return Region.objects.filter(code=org.region.code[:2] + "0000").first() or org.region
    return None


def covers_region(membership: Membership | None, code: str | None) -> bool:
    region = oversight_region(membership)
    return region is not None and region.covers(code)


class IsMember(BasePermission):
    def has_permission(self, request, view):
        m = acting_membership(request)
        if m is None:
            return False
        if (request.method not in SAFE_METHODS and not m.organization.is_active
                and not getattr(view, "allow_suspended_organization", False)):
            raise ApiError("organization_suspended")
        return True


def member_with(*, roles=ALL_ROLES, kinds=None, safe_roles=ALL_ROLES, safe_kinds=None):
    """Read (safe) methods need `safe_roles`/`safe_kinds`; writes need `roles`/`kinds`."""

    class _MemberWith(IsMember):
        def has_permission(self, request, view):
            if not super().has_permission(request, view):
                return False
            m = acting_membership(request)
            if request.method in SAFE_METHODS:
                return m.role in safe_roles and (safe_kinds is None or m.organization.kind in safe_kinds)
            return m.role in roles and (kinds is None or m.organization.kind in kinds)

    _MemberWith.__name__ = f"MemberWith_{'_'.join(roles)}"
    return _MemberWith


IsOperator = member_with(roles=("admin", "trader", "approver"), kinds=("exchange_operator",),
                         safe_kinds=("exchange_operator",))

# Anyone may read; only the exchange operator's admins write (organization management).
ReadAnyWriteOperatorAdmin = member_with(roles=("admin",), kinds=(OPERATOR_KIND,))

# An organization's admins, reading and writing (membership management; scoping is the selector's job).
IsOrgAdmin = member_with(roles=("admin",), safe_roles=("admin",))
