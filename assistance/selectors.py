"""Reads of paired assistance: who sees what, progress per pair and year, the per-region summary, and
commitments with their status.

Visibility. The exchange operator sees everything; a regulator what concerns its jurisdiction (a pair or
commitment when either party's region lies in it: `oversight.scope.Scope`); a government its own pairs
and commitments (as either party); anyone else nothing. Outside what one sees is a 404.

Progress math (integers in fen). For a pair and a year Y, on day D:
  minimum   M = the annual minimum of the agreement in force for Y (0 when none)
  paid      P = the sum of the confirmed payments counted for Y
  shortfall   = max(0, M − P)
  elapsed   e = 0 before Y; the days of Y up to and including D while in Y; every day of Y after it
  expected    = ⌈M · e / days(Y)⌉ (the pro-rata expectation; rounded up, core.money's one rule)
  behind      = max(0, expected − P)
  status      = no_agreement | met (P ≥ M) | short (Y is over, P < M) | on_track (P ≥ expected) | behind
  progress_bp = ⌊P · 10000 / M⌋ (basis points of the minimum; 0 without an agreement)
"""
from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date

from django.db.models import Q, QuerySet, Sum

from accounts.models import Membership, Region
from core.money import ceil_div
from oversight.scope import Scope

from .models import AssistancePair, AssistancePayment, CommitmentStatus, PairAgreement, PaymentStatus, SupportCommitment
from .services import agreement_in_force


def _prefix(membership: Membership) -> tuple[str, str | None]:
    """('all', None) | ('region', prefix) | ('own', None)."""
    scope = Scope(membership)
    if scope.is_operator:
        return "all", None
    if scope.is_regulator:
        return "region", scope.prefix
    return "own", None  # a party sees its own (governments their pairs; any buyer its commitments' payments)


def _party_filter(membership: Membership, a: str, b: str) -> Q | None:
    how, prefix = _prefix(membership)
    if how == "all":
        return Q()
    if how == "region":
        return Q(**{f"{a}__region__code__startswith": prefix}) | Q(**{f"{b}__region__code__startswith": prefix})
    return Q(**{a: membership.organization_id}) | Q(**{b: membership.organization_id})


def pairs_visible(membership: Membership) -> QuerySet[AssistancePair]:
    q = _party_filter(membership, "payer", "payee")
    qs = AssistancePair.objects.select_related("payer", "payee", "payer__region", "payee__region")
    return qs.none() if q is None else qs.filter(q)


def payments_visible(membership: Membership) -> QuerySet[AssistancePayment]:
    q = _party_filter(membership, "payer", "payee")
    qs = AssistancePayment.objects.select_related("payer", "payee")
    return qs.none() if q is None else qs.filter(q)


def commitments_visible(membership: Membership) -> QuerySet[SupportCommitment]:
    """Commitments where the acting organization is a party (any kind of organization: an enterprise may
    have bought the quotas), or in a regulator's jurisdiction, or all for the operator."""
    how, prefix = _prefix(membership)
    qs = SupportCommitment.objects.select_related("supporter", "beneficiary", "trade")
    if how == "all":
        return qs
    if how == "region":
        return qs.filter(Q(supporter__region__code__startswith=prefix)
                         | Q(beneficiary__region__code__startswith=prefix))
    return qs.filter(Q(supporter_id=membership.organization_id) | Q(beneficiary_id=membership.organization_id))


def agreements_visible(membership: Membership) -> QuerySet[PairAgreement]:
    return PairAgreement.objects.filter(pair__in=pairs_visible(membership))


# --- progress ---------------------------------------------------------------------------------------

def days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def elapsed_days(year: int, on: date) -> int:
    if on.year < year:
        return 0
    if on.year > year:
        return days_in_year(year)
    return (on - date(year, 1, 1)).days + 1


def progress_math(*, minimum: int, paid: int, year: int, on: date, has_agreement: bool = True) -> dict:
    """The figures of one pair and year (see the module docstring); amounts in fen."""
    total_days = days_in_year(year)
    elapsed = elapsed_days(year, on)
    expected = ceil_div(minimum * elapsed, total_days)
    closed = on.year > year
    if not has_agreement:
        status = "no_agreement"
    elif paid >= minimum:
        status = "met"
    elif closed:
        status = "short"
    else:
        status = "on_track" if paid >= expected else "behind"
    return {"year": year, "minimum": minimum, "paid": paid, "shortfall": max(0, minimum - paid),
            "expected_to_date": expected, "behind": max(0, expected - paid), "elapsed_days": elapsed,
            "days_in_year": total_days, "closed": closed, "status": status,
            "progress_bp": (paid * 10_000 // minimum) if minimum > 0 else 0}


def paid_by_pair(year: int, pair_ids=None) -> dict[int, int]:
    qs = AssistancePayment.objects.filter(kind="pair", status=PaymentStatus.CONFIRMED, year=year)
    if pair_ids is not None:
        qs = qs.filter(pair_id__in=list(pair_ids))
    return {row["pair_id"]: row["total"] for row in qs.values("pair_id").annotate(total=Sum("amount"))}


def pair_progress(pair: AssistancePair, year: int, on: date, paid: int | None = None) -> dict:
    agreement = agreement_in_force(pair.pk, year)
    if paid is None:
        paid = paid_by_pair(year, [pair.pk]).get(pair.pk, 0)
    row = progress_math(minimum=agreement.annual_minimum if agreement else 0, paid=paid, year=year, on=on,
                        has_agreement=agreement is not None)
    row.update({"pair": pair.pk, "agreement_version": agreement.version if agreement else None,
                "payer": pair.payer_id, "payer_name": pair.payer.name_zh, "payer_region": pair.payer.region_id,
                "payee": pair.payee_id, "payee_name": pair.payee.name_zh, "payee_region": pair.payee.region_id})
    return row


def years_of(pair: AssistancePair, on: date) -> list[int]:
    first = (PairAgreement.objects.filter(pair=pair, status="approved").order_by("effective_year")
             .values_list("effective_year", flat=True).first())
    return list(range(first, on.year + 1)) if first is not None and first <= on.year else []


def progress_report(pairs: QuerySet[AssistancePair], *, year: int, on: date) -> list[dict]:
    pairs = list(pairs.order_by("id"))
    paid = paid_by_pair(year, [p.pk for p in pairs])
    return [pair_progress(p, year, on, paid.get(p.pk, 0)) for p in pairs]


def region_report(pairs: QuerySet[AssistancePair], *, year: int, on: date) -> list[dict]:
    """Per region (the payer's division for obligations, the payee's for receipts): obligation, paid,
    shortfall and received in `year`."""
    out: dict[str, dict] = defaultdict(lambda: {"obligation": 0, "paid": 0, "shortfall": 0, "received": 0,
                                                "pairs_paying": 0, "pairs_receiving": 0})
    for row in progress_report(pairs, year=year, on=on):
        payer, payee = out[row["payer_region"]], out[row["payee_region"]]
        payer["obligation"] += row["minimum"]
        payer["paid"] += row["paid"]
        payer["shortfall"] += row["shortfall"]
        payer["pairs_paying"] += 1
        payee["received"] += row["paid"]
        payee["pairs_receiving"] += 1
    names = dict(Region.objects.filter(code__in=list(out)).values_list("code", "name_zh"))
    return [{"region": code, "region_name": names.get(code, ""), "year": year, **figures}
            for code, figures in sorted(out.items())]


def commitment_status(commitment: SupportCommitment, on: date) -> str:
    if commitment.status == CommitmentStatus.FULFILLED:
        return "fulfilled"
    return "overdue" if commitment.due_date < on else "open"


def commitments_filtered(qs: QuerySet[SupportCommitment], status: str | None, on: date) -> QuerySet:
    if status == "fulfilled":
        return qs.filter(status=CommitmentStatus.FULFILLED)
    if status == "overdue":
        return qs.filter(status=CommitmentStatus.OPEN, due_date__lt=on)
    if status == "open":
        return qs.filter(status=CommitmentStatus.OPEN, due_date__gte=on)
    return qs
