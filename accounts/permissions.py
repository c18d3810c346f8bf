"""Permission classes: role × organization kind × object ownership.

`IsMember` is the default for every API view: an authenticated token with an active membership.
`member_with(roles=..., kinds=...)` builds a class that also checks the acting membership's role and
organization kind. Object ownership is enforced by querysets (selectors return only what the acting
organization may see), so another organization's object is a 404, never a 403 that confirms it exists.
"""
from rest_framework.permissions import SAFE_METHODS, BasePermission

from .models import ApiToken

TRADING_ROLES = ("admin", "trader")
ALL_ROLES = ("admin", "trader", "approver", "viewer")


def acting_membership(request):
    token = getattr(request, "auth", None)
    return token.membership if isinstance(token, ApiToken) else None


class IsMember(BasePermission):
    def has_permission(self, request, view):
        return acting_membership(request) is not None


def member_with(*, roles=ALL_ROLES, kinds=None, safe_roles=ALL_ROLES, safe_kinds=None):
    """Read (safe) methods need `safe_roles`/`safe_kinds`; writes need `roles`/`kinds`."""

    class _MemberWith(IsMember):
        def has_permission(self, request, view):
            m = acting_membership(request)
            if m is None:
                return False
            if request.method in SAFE_METHODS:
                return m.role in safe_roles and (safe_kinds is None or m.organization.kind in safe_kinds)
            return m.role in roles and (kinds is None or m.organization.kind in kinds)

    _MemberWith.__name__ = f"MemberWith_{'_'.join(roles)}"
    return _MemberWith


IsOperator = member_with(roles=("admin", "trader", "approver"), kinds=("exchange_operator",),
                         safe_kinds=("exchange_operator",))
