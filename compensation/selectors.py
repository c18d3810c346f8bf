"""Reads of compensation: who sees which agreement, the per-agreement report (indicator series per
section, each period's result and payment, cumulative transfers) and the per-region report, which is
built from the LEDGER (transactions whose kind starts with `compensation_` or `assistance_`), so that it
includes paired assistance without importing that app, next to the region's trading proceeds.

Visibility: the exchange operator sees everything; a regulator the agreements with a party or a section
region in its jurisdiction (oversight.scope); a party's members (any role) their agreements — both
parties see the same data; a monitoring station the agreements of the sections it reports. Anything else
is a 404.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.db import connection
from django.db.models import Q, QuerySet, Sum

from accounts.models import Membership, Organization, Region
from ledger.earmark import FUND_OF_KIND, FUNDS
from ledger.models import Account, LedgerTransaction, Posting
from oversight.scope import Scope
from trading.models import Trade

from .models import Agreement, AgreementParty, Assessment, AssessmentStatus, Measurement, MonitoringSection, Period

LEDGER_KIND_PREFIXES = ("compensation_", "assistance_")


def agreements_visible(membership: Membership) -> QuerySet[Agreement]:
    qs = Agreement.objects.all()
    org = membership.organization
    scope = Scope(membership)
    if scope.is_operator:
        return qs
    if scope.is_regulator:
        p = scope.prefix
        return qs.filter(Q(versions__parties__organization__region__code__startswith=p)
                         | Q(versions__sections__upstream_region__code__startswith=p)
                         | Q(versions__sections__downstream_region__code__startswith=p)).distinct()
    if org.kind == "monitoring_station":
        return qs.filter(versions__sections__station=org).distinct()
    return qs.filter(versions__parties__organization=org).distinct()


def party_ids(agreement: Agreement) -> set[int]:
    return set(AgreementParty.objects.filter(version__agreement=agreement).values_list("organization_id", flat=True))


def measurements_visible(membership: Membership) -> QuerySet[Measurement]:
    """The data of the sections of the agreements one sees, of one's own station, and (a regulator) of the
    sections with a region in its jurisdiction."""
    visible = agreements_visible(membership)
    q = Q(versions__agreement__in=visible) | Q(station=membership.organization)
    scope = Scope(membership)
    if scope.is_regulator and not scope.is_operator:
        q |= Q(upstream_region__code__startswith=scope.prefix) | Q(downstream_region__code__startswith=scope.prefix)
    sections = MonitoringSection.objects.filter(q).values("id")
    return Measurement.objects.filter(section_id__in=sections).select_related("section", "indicator")


def _latest(measurements) -> dict[tuple, Measurement]:
    out = {}
    for m in measurements:
        out[(m.section_id, m.indicator_id, m.month)] = m  # ordered by version: the last is in force
    return out


def agreement_report(agreement: Agreement) -> dict:
    """Indicator series per section (values in force, with the number of versions behind each), each
    period's result and payment (and whether data used by its assessment has been corrected since), and
    cumulative transfers per payer → payee. Amounts in fen."""
    sections = list(MonitoringSection.objects.filter(versions__agreement=agreement).distinct().order_by("id"))
    ms = (Measurement.objects.filter(section__in=sections).select_related("indicator")
          .order_by("section_id", "indicator_id", "month", "version"))
    series: dict = {}
    for m in _latest(ms).values():
        entry = series.setdefault(m.section_id, {}).setdefault(m.indicator.code, {"unit": m.indicator.unit,
                                                                                  "points": []})
        entry["points"].append({"month": m.month.isoformat()[:7], "value": str(m.value), "version": m.version})
    latest_version = {(m.section.code, m.indicator.code, m.month.isoformat()[:7]): m.version
                      for m in ms.select_related("section")}
    periods, cumulative, total = [], defaultdict(int), 0
    for period in Period.objects.filter(agreement=agreement).exclude(status="cancelled").order_by("start"):
        assessments = []
        for a in period.assessments.order_by("attempt"):
            corrected = [i for i in a.inputs
                         if latest_version.get((i["section"], i["indicator"], i["month"]), i["version"]) > i["version"]]
            approval = getattr(a, "approval", None)
            assessments.append({
                "id": a.pk, "attempt": a.attempt, "status": a.status, "outcome": a.outcome, "transfers": a.transfers,
                "steps": a.steps, "computed_at": a.computed_at, "objection_until": a.objection_until,
                "settled_at": a.settled_at, "ledger_transactions": a.settlement_transactions,
                "approval": approval and {"id": approval.pk, "status": approval.status,
                                          "approvals": approval.decisions.filter(decision="approve").count(),
                                          "required": approval.required},
                "objections": [{"id": o.pk, "organization": o.organization_id, "reason": o.reason,
                                "status": o.status, "resolution": o.resolution} for o in a.objections.all()],
                "inputs_corrected_since": corrected})
            if a.status == AssessmentStatus.SETTLED:
                for t in a.transfers:
                    cumulative[(t["payer"], t["payee"])] += t["amount"]
                    total += t["amount"]
        periods.append({"id": period.pk, "version": period.version.version, "start": period.start, "end": period.end,
                        "status": period.status, "funding_error": period.funding_error,
                        "hold_transactions": period.hold_transactions, "assessments": assessments})
    names = dict(Organization.objects.filter(pk__in={o for k in cumulative for o in k}).values_list("id", "name_zh"))
    return {
        "sections": [{"id": s.pk, "code": s.code, "name_zh": s.name_zh, "name_en": s.name_en,
                      "upstream_region": s.upstream_region_id, "downstream_region": s.downstream_region_id,
                      "station": s.station_id, "series": series.get(s.pk, {})} for s in sections],
        "periods": periods,
        "cumulative": [{"payer": p, "payer_name": names.get(p, ""), "payee": q, "payee_name": names.get(q, ""),
                        "amount": v} for (p, q), v in sorted(cumulative.items())],
        "cumulative_total": total,
    }


REGION_LEDGER_SQL = f"""
SELECT a.organization_id, t.kind,
       SUM(CASE WHEN s.net > 0 THEN s.net ELSE 0 END), SUM(CASE WHEN s.net < 0 THEN -s.net ELSE 0 END)
  FROM (SELECT p.transaction_id, p.account_id, SUM(p.amount) AS net
          FROM {Posting._meta.db_table} p
         WHERE p.transaction_id IN (SELECT id FROM {LedgerTransaction._meta.db_table}
                                     WHERE kind LIKE 'compensation\\_%%' OR kind LIKE 'assistance\\_%%')
         GROUP BY p.transaction_id, p.account_id) s
  JOIN {LedgerTransaction._meta.db_table} t ON t.id = s.transaction_id
  JOIN {Account._meta.db_table} a ON a.id = s.account_id
 WHERE a.organization_id IS NOT NULL
 GROUP BY a.organization_id, t.kind
"""


def region_report(scope: Scope, *, since: date | None = None) -> list[dict]:
    """Per region (a county, city or province code of an organization in the scope): compensation and
    assistance received and paid, by ledger kind, the region's trading proceeds (settled sales), and the
    balance of each earmarked fund of its government bodies (`funds`: farmland, basin_compensation,
    paired_assistance; ledger.earmark.FUNDS)."""
    with connection.cursor() as cur:
        cur.execute(REGION_LEDGER_SQL)
        rows = cur.fetchall()
    orgs = {o.id: o for o in Organization.objects.filter(pk__in={r[0] for r in rows})}
    by_region: dict[str, dict] = {}
    for org_id, kind, received, paid in rows:
        org = orgs[org_id]
        if not scope.covers(org.region_id) or (received == 0 and paid == 0):
            continue
        if kind in ("compensation_hold", "compensation_release"):
            continue  # escrow moves inside one organization's account: neither received nor paid
        entry = by_region.setdefault(org.region_id, {"region": org.region_id, "by_kind": {}, "received": 0, "paid": 0})
        k = entry["by_kind"].setdefault(kind, {"received": 0, "paid": 0})
        k["received"] += int(received)
        k["paid"] += int(paid)
        entry["received"] += int(received)
        entry["paid"] += int(paid)
    proceeds = dict(Trade.objects.filter(status="settled", seller__region_id__in=list(by_region))
                    .values("seller__region_id").annotate(total=Sum("value")).values_list("seller__region_id", "total"))
    funds = {(r, k): int(v) for r, k, v in Account.objects.filter(
        kind__in=list(FUND_OF_KIND), organization__region_id__in=list(by_region)).values(
        "organization__region_id", "kind").annotate(total=Sum("available")).values_list(
        "organization__region_id", "kind", "total")}
    names = dict(Region.objects.filter(code__in=list(by_region)).values_list("code", "name_zh"))
    names_en = dict(Region.objects.filter(code__in=list(by_region)).values_list("code", "name_en"))
    out = []
    for code in sorted(by_region):
        e = by_region[code]
        out.append({**e, "name_zh": names.get(code, ""), "name_en": names_en.get(code, ""),
                    "trading_proceeds": proceeds.get(code, 0),
                    "funds": {f.code: funds.get((code, f.kind), 0) for f in FUNDS.values()}})
    return out


def assessments_of(agreement: Agreement) -> QuerySet[Assessment]:
    return Assessment.objects.filter(period__agreement=agreement).select_related("period").order_by("period__start",
                                                                                                     "attempt")
