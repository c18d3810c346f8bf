"""Console pages of people and memberships: the invited user's own invitations (accept / decline), an
organization admin's members page (its own organization), and the role change / deactivation form used
there and on the operator's organization page.

Every write goes to the API's own views (`console.api.call`): `POST /api/v1/invitations/{id}/accept|decline`
(only the invited user's own invitations), `PATCH /api/v1/memberships/{id}` (an organization's admins for
their own organization, the operator's admins for any; `accounts.services.membership_update` keeps one
active admin per organization, revokes a deactivated member's tokens and writes the audit event).
"""
from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from accounts.models import Organization

from . import api
from .templatetags.console import is_en
from .views import ROLES, _done, _t, ctx, home_for, member_required


def _rows(result: api.ApiResult) -> list:
    if not result.ok:
        return []
    return list(result.data.get("results", []) if isinstance(result.data, dict) else result.data)


# --- the invited user's page ----------------------------------------------------------------------------------

@member_required()
def invitations_view(request):
    result = api.call(request, "GET", "/api/v1/invitations")
    if not result.ok:
        messages.error(request, result.message)
    labels = {code: _t(zh, en) for code, zh, en in ROLES}
    rows = [{**r, "role_label": labels.get(r["role"], r["role"])} for r in _rows(result)]
    return render(request, "console/invitations.html", ctx(request, invitations=rows))


@require_POST
@member_required()
def invitation_decide_view(request, pk: int, decision: str):
    if decision not in ("accept", "decline"):
        raise Http404
    result = api.call(request, "POST", f"/api/v1/invitations/{pk}/{decision}", {})
    if decision == "accept" and result.ok:
        org = result.data.get("organization") or {}
        name = (is_en() and org.get("name_en")) or org.get("name_zh", "")
        messages.success(request, _t(f"已加入 {name}：可在页头切换到该机构。",
                                     f"You joined {name}: switch to it in the header."))
    else:
        _done(request, result, "已谢绝邀请", "Invitation declined")
    return redirect("console:invitations")


# --- members: an organization admin's own organization ----------------------------------------------------------

@member_required()
def my_organization_view(request):
    m = request.membership
    if m.role != "admin":
        messages.error(request, _t("只有机构管理员可以管理成员。",
                                   "Only the organization's admins manage its members."))
        return redirect(home_for(m))
    return members_page(request, m.organization)


def members_page(request, org: Organization, *, operator: bool = False):
    result = api.call(request, "GET", "/api/v1/memberships", query={"organization": org.pk, "page_size": 500})
    if not result.ok:
        messages.error(request, result.message)
    members = [r for r in _rows(result) if (r.get("organization") or {}).get("id") == org.pk]
    invitations = account_selectors.pending_invitations_of(membership=request.membership, organization_id=org.pk)
    return render(request, "console/organization.html", ctx(request, org=org, members=members, operator=operator,
                                                            invitations=list(invitations), roles=ROLES))


@require_POST
@member_required()
def my_member_invite_view(request):
    m = request.membership
    body = {"organization": m.organization_id, "role": request.POST.get("role", ""),
            "username": request.POST.get("username", "")}
    result = api.call(request, "POST", "/api/v1/memberships", body)
    if result.ok and result.status == 202:
        messages.success(request, _t("邀请已发出：对方接受后成为成员（若该用户存在）。",
                                     "Invitation sent: the user becomes a member once they accept (if the user "
                                     "exists)."))
    else:
        _done(request, result, "成员已添加", "Member added")
    return redirect("console:my-organization")


@require_POST
@member_required()
def member_update_view(request, pk: int):
    """Change a member's role, or deactivate / reactivate them (the API decides who may, and keeps an admin)."""
    p = request.POST
    body = {}
    if p.get("role"):
        body["role"] = p["role"]
    if p.get("is_active") in ("true", "false"):
        body["is_active"] = p["is_active"] == "true"
    if not body:
        messages.error(request, _t("没有要修改的内容。", "Nothing to change."))
    else:
        result = api.call(request, "PATCH", f"/api/v1/memberships/{pk}", body)
        if "is_active" in body:
            _done(request, result, "成员已重新启用" if body["is_active"] else "成员已停用（其令牌已撤销）",
                  "Member reactivated" if body["is_active"] else "Member deactivated (their tokens are revoked)")
        else:
            _done(request, result, "角色已修改", "Role changed")
    nxt = p.get("next") or ""
    return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else home_for(request.membership))
