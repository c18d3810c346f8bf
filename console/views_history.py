"""The history of decided four-eyes requests, beside the pending queues: maker-checker movements
(deposits, withdrawals, transfers, issuance), market proposals, and trade approvals — who proposed, who
decided, when, and the outcome, newest decision first, ten to a page (htmx swaps the section in place;
each page is also a plain link).

Scoped as the API scopes them: movements by `ledger.movements.movement_list` (the operator: all; an
issuer: its own), market proposals for whoever the market-proposal API lets read (asked of the API
itself before reading), approvals by the acting organization's jurisdiction (`oversight.scope`).
Decided rows are a bounded, indexed read (their count grows with decisions, not with trades).
"""
from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import F, Prefetch
from django.http import Http404
from django.shortcuts import render

from accounts.models import Organization
from core.money import from_minor
from ledger.movements import movement_list
from marketplace.models import MarketProposal
from oversight.models import ApprovalDecision, ApprovalRequest
from oversight.scope import scope_of

from . import api
from .templatetags.console import is_en
from .views import MOVEMENT_KINDS, OVERSIGHT_KINDS, _t, ctx, member_required

PAGE_SIZE = 10
NEWEST_DECISION = F("decided_at").desc(nulls_last=True)  # PostgreSQL sorts NULL first in DESC
KINDS = ("movements", "proposals", "approvals")


def _page(request, qs):
    number = request.GET.get("page", "1")
    return Paginator(qs, PAGE_SIZE).get_page(int(number) if number.isdigit() else 1)


def _name(org: Organization | None) -> str:
    if org is None:
        return "—"
    return (org.name_en or org.name_zh) if is_en() else org.name_zh


def _movements(request) -> tuple[object, list[dict]]:
    qs = (movement_list(membership=request.membership).exclude(status="pending")
          .select_related("proposed_by", "proposer_organization", "decided_by", "decided_by_organization")
          .order_by(NEWEST_DECISION, "-id"))
    page = _page(request, qs)
    rows = []
    for mv in page:
        zh, en = MOVEMENT_KINDS.get(mv.kind, (mv.kind, mv.kind))
        rows.append({"id": mv.id, "what": f"{_t(zh, en)} {from_minor(mv.amount, mv.asset.scale)} {mv.asset.code}",
                     "proposed_by": mv.proposed_by.username, "proposer_org": _name(mv.proposer_organization),
                     "decided_by": mv.decided_by.username if mv.decided_by else "—",
                     "decided_at": mv.decided_at, "outcome": mv.status, "reason": mv.reason})
    return page, rows


def _proposals(request) -> tuple[object, list[dict]]:
    probe = api.call(request, "GET", "/api/v1/market-proposals", query={"page_size": 1})  # the API's read rule
    if not probe.ok:
        raise Http404
    qs = (MarketProposal.objects.exclude(status="pending").select_related("asset", "market", "proposed_by",
                                                                           "decided_by")
          .order_by(NEWEST_DECISION, "-id"))
    page = _page(request, qs)
    rows = [{"id": p.id, "what": f"{p.get_kind_display()} {p.market.code if p.market else p.asset.code}: "
                                 + " ".join(f"{k}={v}" for k, v in p.config.items()),
             "proposed_by": p.proposed_by.username, "proposer_org": "",
             "decided_by": p.decided_by.username if p.decided_by else "—", "decided_at": p.decided_at,
             "outcome": p.status, "reason": p.reason} for p in page]
    return page, rows


def _approvals(request) -> tuple[object, list[dict]]:
    qs = (scope_of(request.membership).approvals(ApprovalRequest.objects.exclude(status="pending"))
          .select_related("trade__buyer", "trade__seller")
          .prefetch_related(Prefetch("decisions", queryset=ApprovalDecision.objects.select_related("user")
                                     .order_by("id")))
          .order_by(NEWEST_DECISION, "-id"))
    page = _page(request, qs)
    rows = []
    for r in page:
        decided = [f"{d.user.username} ({d.decision})" for d in r.decisions.all()]
        rows.append({"id": r.id, "trade": r.trade_id,
                     "what": f"{_t('成交', 'trade')} #{r.trade_id} · {', '.join(r.rule_codes)}",
                     "proposed_by": f"{_name(r.trade.seller)} → {_name(r.trade.buyer)}", "proposer_org": "",
                     "decided_by": "; ".join(decided) or _t("（系统）", "(system)"), "decided_at": r.decided_at,
                     "outcome": r.status, "reason": r.outcome_reason})
    return page, rows


@member_required()
def history_partial(request, what: str):
    if what not in KINDS:
        raise Http404
    if what == "proposals" and request.membership.organization.kind != "exchange_operator":
        raise Http404
    if what == "approvals" and request.membership.organization.kind not in OVERSIGHT_KINDS:
        raise Http404
    page, rows = {"movements": _movements, "proposals": _proposals, "approvals": _approvals}[what](request)
    titles = {"movements": ("已处理的出入金与发放", "Decided deposits, withdrawals and issuance"),
              "proposals": ("已处理的市场提议", "Decided market proposals"),
              "approvals": ("已处理的成交审批", "Decided trade approvals")}
    data = {"what": what, "page": page, "rows": rows, "title": _t(*titles[what]), "en": is_en()}
    if request.htmx:  # the section, swapped in place
        return render(request, "console/_history.html", data)
    return render(request, "console/history.html", ctx(request, **data))  # the same, as a page of its own
