"""Console pages of paired assistance (山海协作对口帮扶) and farmland buyers' support commitments: for the
governments (their pairs' progress, the payment form and the pending payments they may confirm, their
commitments) and for the regulators and the operator (every pair in their jurisdiction with progress
bars and a chart, shortfall alerts, overdue commitments, CSV exports). Reads use the assistance app's
selectors (the same visibility as the API); writes and exports are the API's own views (`console.api`)."""
from __future__ import annotations

from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from assistance import selectors
from assistance.services import PAYMENT_PURPOSES
from ledger.earmark import EARMARK_PURPOSES
from oversight.models import Alert
from oversight.scope import scope_of

from . import api
from .views import _done, _t, ctx, member_required

KINDS = ("county_government", "city_government", "regulator", "exchange_operator")


def _year(request) -> int:
    raw = request.GET.get("year", "")
    this = timezone.localdate().year
    return int(raw) if raw.isdigit() and this - 10 <= int(raw) <= this + 1 else this


@member_required(KINDS)
def assistance_view(request):
    m = request.membership
    today, year = timezone.localdate(), _year(request)
    pairs = selectors.pairs_visible(m)
    rows = selectors.progress_report(pairs, year=year, on=today)
    for r in rows:
        r["percent"] = r["progress_bp"] / 100  # display only; the figures are the fen amounts beside it
    state = request.GET.get("state") or None
    if state not in (None, "open", "overdue", "fulfilled"):
        state = None
    commitments = list(selectors.commitments_filtered(selectors.commitments_visible(m), state, today)
                       .order_by("due_date", "id")[:200])
    for c in commitments:
        c.state = selectors.commitment_status(c, today)
    payable = [p for p in pairs if p.payer_id == m.organization_id]
    pending = list(selectors.payments_visible(m).filter(status="pending").select_related("pair")[:50])
    alerts = []
    if m.organization.kind in ("regulator", "exchange_operator"):
        alerts = list(scope_of(m).by_region_codes(Alert.objects.filter(kind="assistance_shortfall"))
                      .order_by("-detected_at")[:20])
    purposes = [(code, EARMARK_PURPOSES[code]) for code in PAYMENT_PURPOSES]
    return render(request, "console/assistance.html", ctx(
        request, rows=rows, year=year, years=list(range(today.year - 2, today.year + 1)), commitments=commitments,
        state=state or "", payable=payable, pending=pending, alerts=alerts, purposes=purposes,
        may_check=m.role in ("admin", "approver")))


@member_required(KINDS)
def assistance_data(request):
    """Chart data (geometry only: floats of yuan; the table shows the exact strings)."""
    today, year = timezone.localdate(), _year(request)
    rows = selectors.progress_report(selectors.pairs_visible(request.membership), year=year, on=today)
    return JsonResponse({"year": year, "pairs": [
        {"label": f"{r['payer_name']}→{r['payee_name']}", "minimum": r["minimum"] / 100, "paid": r["paid"] / 100,
         "expected": r["expected_to_date"] / 100, "status": r["status"]} for r in rows]})


@require_POST
@member_required(("county_government", "city_government"))
def assistance_pay_view(request):
    p = request.POST
    body = {"pair": int(p.get("pair") or 0), "amount": p.get("amount", ""), "purpose_code": p.get("purpose_code", ""),
            "description": p.get("description", "")}
    if p.get("year", "").isdigit():
        body["year"] = int(p["year"])
    result = api.call(request, "POST", "/api/v1/assistance/payments", body, idempotency_key=p.get("idem"))
    if result.ok:
        number = result.data.get("id")
        messages.success(request, _t(f"付款申请已提交（编号 {number}），等待本单位另一位审核人确认后记账。",
                                     f"Payment request {number} submitted: a second person of your government "
                                     "confirms it before it is posted."))
    else:
        messages.error(request, result.message or _t("操作失败", "The request failed"))
    return redirect("console:assistance")


@require_POST
@member_required(("county_government", "city_government"))
def assistance_decide_view(request, pk: int, decision: str):
    if decision not in ("confirm", "reject"):
        raise Http404
    body = {} if decision == "confirm" else {"reason": request.POST.get("reason", "") or _t("驳回", "rejected")}
    result = api.call(request, "POST", f"/api/v1/assistance/payments/{pk}/{decision}", body)
    _done(request, result, "付款已确认并记账" if decision == "confirm" else "付款申请已驳回",
          "Payment confirmed and posted" if decision == "confirm" else "Payment request rejected")
    return redirect("console:assistance")


@member_required(KINDS)
def assistance_export_view(request, what: str):
    if what not in ("progress", "commitments"):
        raise Http404
    query = {k: request.GET[k] for k in ("year", "status", "lang") if request.GET.get(k)}
    return api.call(request, "GET", f"/api/v1/assistance/exports/{what}.csv", query=query).response
