"""Console pages of compensation between regions: the agreements the acting organization may see, and one
agreement's page (versions and parties, the indicator chart per section with ECharts, each period's result
with its computation step by step, cumulative transfers). Reads go through compensation.selectors, the
same visibility as the API (another organization's agreement is a 404)."""
from __future__ import annotations

from django.http import Http404, JsonResponse
from django.shortcuts import render

from compensation import selectors as comp_selectors
from compensation.views import agreement_data

from .views import ctx, member_required


@member_required()
def compensation_list_view(request):
    rows = [agreement_data(a) for a in comp_selectors.agreements_visible(request.membership)
            .prefetch_related("versions").order_by("id")]
    return render(request, "console/compensation_list.html", ctx(request, agreements=rows))


def _agreement(request, pk: int):
    a = comp_selectors.agreements_visible(request.membership).filter(pk=pk).first()
    if a is None:
        raise Http404
    return a


def section_summary(steps: list[dict]) -> list[dict]:
    """Per section of a compliance-tiers assessment (its step 2): the compliant months and the annual
    indicator (each indicator's mean against its limit). [] for the other formula kinds and for assessments
    computed before the annual indicator existed."""
    values = steps[1].get("values") if len(steps) > 1 else None
    if not isinstance(values, dict):
        return []
    sections = (steps[0].get("values") or {}).get("sections") or []
    per = {(sections[0] if sections else ""): values} if "months" in values else values
    out = []
    for code, v in per.items():
        if not isinstance(v, dict) or "annual" not in v:
            continue
        rows = v.get("months") or []
        out.append({"section": code, "compliant": sum(r.get("state") == "compliant" for r in rows),
                    "missing": sum(r.get("state") == "missing" for r in rows), "months": len(rows),
                    "annual": v["annual"]["state"],
                    "means": [{"indicator": k, **m} for k, m in v["annual"]["indicators"].items()]})
    return out


@member_required()
def compensation_detail_view(request, pk: int):
    data = agreement_data(_agreement(request, pk), full=True)
    for p in data["periods"]:
        for x in p["assessments"]:
            x["sections_summary"] = section_summary(x["steps"])
    in_force = (next((v for v in data["versions"] if v["status"] == "in_force"), None)
                or (data["versions"] or [None])[-1])
    return render(request, "console/compensation_detail.html", ctx(request, a=data, version=in_force))


@member_required()
def compensation_data(request, pk: int):
    """Chart data: per section, per indicator, the monthly values in force (decimal strings)."""
    data = agreement_data(_agreement(request, pk), full=True)
    return JsonResponse({"sections": [{"code": s["code"], "name": s["name_zh"], "series": s["series"]}
                                      for s in data["sections"]]})
