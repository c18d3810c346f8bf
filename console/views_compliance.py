"""Console page of the compliance cycle (issue 18 item 1).

An enterprise sees its obligation per compliance year — allocated, verified emissions (and the version),
a negative true-up owed, surrendered, remaining, deadline — and surrenders through the API's own view
(`console.api.call`: the same checks, idempotency and messages). Regulators (and the operator) see the
shortfall list of each year in their jurisdiction (`compliance.selectors.shortfall_report`, as the API)."""
from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from compliance import selectors as compliance_selectors
from compliance.services import today
from ledger.models import Account

from . import api
from .views import _t, ctx, member_required

PAGE_KINDS = ("enterprise", "regulator", "exchange_operator", "provincial_authority", "verifier")
OVERSIGHT = ("regulator", "exchange_operator")


@member_required(kinds=PAGE_KINDS)
def compliance_view(request):
    m = request.membership
    rows = compliance_selectors.obligations(m)
    for row in rows:
        row["scale"] = row["year"].allocation_asset.scale
        row["open"] = row["year"].deadline >= today()
    holdings = []
    if m.organization.kind == "enterprise":
        holdings = list(Account.objects.select_related("asset").filter(
            organization_id=m.organization_id, kind="participant", asset__kind="right", available__gt=0,
            asset__right_type_id__in={r["year"].right_type_id for r in rows}).order_by("asset__code"))
    reports = []
    if m.organization.kind in OVERSIGHT:
        for year in compliance_selectors.years()[:10]:
            report = compliance_selectors.shortfall_report(m, year)
            report["scale"] = year.allocation_asset.scale
            report["deadline_passed"] = year.deadline < today()
            reports.append(report)
    return render(request, "console/compliance.html", ctx(request, rows=rows, holdings=holdings, reports=reports))


@require_POST
@member_required(kinds=("enterprise",))
def surrender_view(request):
    result = api.call(request, "POST", "/api/v1/compliance/surrenders",
                      {"year": request.POST.get("year"), "asset": request.POST.get("asset", ""),
                       "amount": request.POST.get("amount", "")},
                      idempotency_key=request.POST.get("idem") or None)
    if result.ok:
        messages.success(request, _t("清缴已完成（已注销配额）。", "Surrendered (allowances retired)."))
    else:
        messages.error(request, result.message or _t("操作失败", "The request failed"))
    return redirect(reverse("console:compliance"))
