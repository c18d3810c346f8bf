"""Use cases of compensation between regions: agreements (create a version, sign, approve), monitoring data
(submit, correct), the period cycle (fund → assess → approve / object → settle) and the tick that drives
it. One `transaction.atomic` per use case, with its audit event; every balance change is a ledger
transaction whose kind starts with `compensation_`:

  compensation_hold      when a period opens, each party's contribution: available → held (escrow before
                         exposure: a payout can never fail for lack of funds);
  compensation_transfer  on settlement, payer's held → payee's basin eco-compensation fund (its own
                         earmarked account, ledger.earmark.FUNDS["basin_compensation"]: paid out only
                         for that fund's purposes, water_pollution_control, ecological_protection);
  compensation_release   on settlement, what is left of each party's escrow: held → available.

A version's contributions must cover the most its terms can make each party pay in one period
(`formulas.worst_case_payments`), so settlement cannot run short.

Four eyes (the semantics of oversight.approvals): `required` (2) distinct people approve; the first an
approver/admin of the exchange operator or of a regulator covering the agreement, the final one an
approver/admin of the regulator whose jurisdiction is the approval's (the provincial regulator); nobody
with any membership in a party, nor the proposer. Anyone who may approve may reject.

Cross-provincial agreements (a party or a section region in more than one province, e.g. Fujian and
Guangdong on the Tingjiang–Hanjiang): four eyes in EACH province. `required` = 2 × the provinces; every
decider (approve, reject, resolve an objection) is an approver/admin of the provincial regulator of one of
those provinces (`compensation_province_approver` otherwise: not the operator, not a city regulator); each
province counts at most two approvals (`compensation_province_done` for a third), and the approval is
complete when every province has its two. Party members and the proposer stay excluded. A regulator of a
province not involved does not see the approval at all (404, the jurisdiction rule of oversight.scope).

The objection window: an assessment may be objected to by a party's admin until `objection_until`;
an open objection holds the settlement until a regulator (same decider rules) dismisses it (settlement
proceeds) or upholds it (the assessment is rejected and the period is assessed again once its data has
been corrected). A correction of measurements after settlement reopens nothing: it is a new version,
and the assessment shows that its inputs have been superseded.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import GOVERNMENT_KINDS, Basin, Membership, Organization
from core.errors import DomainError
from core.money import to_minor
from ledger.earmark import BASIN, FUNDS, fund_account_key
from ledger.models import AccountKind
from ledger.posting import AVAILABLE, HELD, Leg, accounts_ensure, post
from ledger.services import cny
from oversight.four_eyes import ApprovesOnce, DecidingSeat, FinalApprover, FourEyes, NotAParty, NotProposer
from oversight.scope import EXCHANGE_PROVINCE, Scope, province_of

from . import formulas
from .errors import (
    AGREEMENT_EXISTS,
    ALREADY_SIGNED,
    COMPENSATION_ALREADY_APPROVED,
    COMPENSATION_APPROVAL_CLOSED,
    COMPENSATION_APPROVER_CONFLICT,
    COMPENSATION_FINAL_APPROVER,
    COMPENSATION_NOT_AN_APPROVER,
    COMPENSATION_PROVINCE_APPROVER,
    COMPENSATION_PROVINCE_DONE,
    CORRECTION_REASON_REQUIRED,
    ESCROW_DOES_NOT_COVER,
    INVALID_AGREEMENT,
    INVALID_MEASUREMENT,
    NOT_A_PARTY_ADMIN,
    NOT_A_STATION,
    OBJECTION_NOT_OPEN,
    OBJECTION_WINDOW_CLOSED,
    VERSION_NOT_SIGNING,
)
from .models import (
    Agreement,
    AgreementParty,
    AgreementSignature,
    AgreementVersion,
    ApprovalDecision,
    ApprovalStatus,
    Assessment,
    AssessmentStatus,
    CompensationApproval,
    FormulaKind,
    Indicator,
    Measurement,
    MonitoringSection,
    Objection,
    PartyRole,
    Period,
    PeriodStatus,
    VersionIndicator,
    VersionStatus,
)

PROVINCE = EXCHANGE_PROVINCE  # the exchange's province: its regulator gives the final approval
PER_PROVINCE = 2  # four eyes: two people of each province's regulator
OBJECTION_DAYS = 10
EARMARK_PURPOSE_CODES = list(FUNDS[BASIN].purposes)
AMOUNT_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
VALUE_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)
MAX_YUAN = Decimal(10) ** 13
KIND_HOLD, KIND_TRANSFER, KIND_RELEASE = "compensation_hold", "compensation_transfer", "compensation_release"


def _bad(field: str, message: str):
    return DomainError(INVALID_AGREEMENT, fields={field: message})


def _actor(membership: Membership) -> Actor:
    return Actor(user_id=membership.user_id, organization_id=membership.organization_id, role=membership.role,
                 organization_kind=membership.organization.kind)


# --- agreements ----------------------------------------------------------------------------------------

def _amount(value, field: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise _bad(field, "a decimal string in yuan") from None
    if not isinstance(value, str) or not AMOUNT_RE.fullmatch(value) or -d.as_tuple().exponent > 2 \
            or d >= MAX_YUAN:
        raise _bad(field, "a decimal string in yuan, at most 2 decimal places, below 10^13")
    return to_minor(d, 2)


def _ratio(value, field: str) -> Decimal:
    if not isinstance(value, str) or not AMOUNT_RE.fullmatch(value):
        raise _bad(field, "a non-negative decimal string")
    d = Decimal(value)
    if -d.as_tuple().exponent > 4 or d >= 10**9:
        raise _bad(field, "at most 4 decimal places, below 10^9")
    return d


def _normalize_terms(kind: str, terms: dict, roles: dict[str, list[int]], sections: set[str]) -> dict:
    """The terms with amounts in fen, checked for shape. Raises invalid_agreement."""
    t = dict(terms or {})

    def rule(r, field):
        r = dict(r or {})
        r["amount"] = _amount(r.get("amount", 0), field + ".amount")
        if r["amount"] and (r.get("payer") not in roles or r.get("payee") not in roles or r["payer"] == r["payee"]):
            raise _bad(field, "payer and payee must be two different roles of the parties")
        if formulas.REWARDER in (r.get("payer"), r.get("payee")):
            raise _bad(field, "the rewarder pays only the reward (`reward`), never a compensation")
        reward = _amount(r["reward"], field + ".reward") if r.get("reward") not in (None, "") else 0
        if reward:
            # the central government's reward by results: from the `rewarder` party to the `upstream` one
            if len(roles.get(formulas.REWARDER, [])) != 1 or len(roles.get("upstream", [])) != 1:
                raise _bad(field + ".reward", "a reward needs exactly one rewarder and one upstream party")
            r["reward"] = reward
        else:
            r.pop("reward", None)
        return r

    if kind in ("compliance_tiers", "composite_index"):
        if t.get("sections") is not None:
            listed = t["sections"]
            if not isinstance(listed, list) or not listed or len(set(map(str, listed))) != len(listed) \
                    or not set(map(str, listed)) <= sections:
                raise _bad("terms.sections", "distinct codes of the version's sections")
            t["sections"] = [str(x) for x in listed]
            t.pop("section", None)
        elif t.get("section") not in sections:
            raise _bad("terms.section", "one of the version's sections")
        combines = (formulas.POOLED, formulas.PER_SECTION) if kind == "compliance_tiers" else (
            formulas.WEIGHTED_MEAN, formulas.PER_SECTION)
        if "combine" in t and t["combine"] not in combines:
            raise _bad("terms.combine", f"one of {', '.join(combines)}")
        if "section_weights" in t:
            if kind != "composite_index" or not isinstance(t["section_weights"], dict) \
                    or set(t["section_weights"]) != set(formulas.section_codes(t)):
                raise _bad("terms.section_weights", "a weight per section of a composite agreement")
            t["section_weights"] = {k: str(_ratio(v, f"terms.section_weights.{k}"))
                                    for k, v in t["section_weights"].items()}
            if not any(Decimal(v) > 0 for v in t["section_weights"].values()):
                raise _bad("terms.section_weights", "at least one positive weight")
    if kind == "compliance_tiers":
        tiers = t.get("tiers") or []
        if not tiers:
            raise _bad("terms.tiers", "at least one tier")
        clean = []
        for i, x in enumerate(tiers):
            x = {**x, "min_rate": str(_ratio(x.get("min_rate"), "terms.tiers.min_rate"))}
            if x.get("min_annual_rate") in (None, ""):
                x.pop("min_annual_rate", None)
            else:
                x["min_annual_rate"] = str(_ratio(x["min_annual_rate"], f"terms.tiers[{i}].min_annual_rate"))
                if Decimal(x["min_annual_rate"]) > 1:
                    raise _bad(f"terms.tiers[{i}].min_annual_rate", "a rate is at most 1")
            clean.append(rule(x, f"terms.tiers[{i}]"))
        t["tiers"] = clean
        if not any(Decimal(x["min_rate"]) == 0 and Decimal(x.get("min_annual_rate", "0")) == 0 for x in clean):
            raise _bad("terms.tiers", "the lowest tier must start at min_rate 0 without an annual condition "
                                      "(every rate has a tier)")
        if max(Decimal(x["min_rate"]) for x in t["tiers"]) > 1:
            raise _bad("terms.tiers", "a rate is at most 1")
    elif kind == "composite_index":
        k = _ratio(t.get("stability_coefficient"), "terms.stability_coefficient")
        if k <= 0:
            raise _bad("terms.stability_coefficient", "positive")
        t["stability_coefficient"] = str(k)
        t["good"], t["bad"] = rule(t.get("good"), "terms.good"), rule(t.get("bad"), "terms.bad")
    elif kind == "weighted_allocation":
        t["fund"] = _amount(t.get("fund"), "terms.fund")
        factors = {f: str(_ratio(w, f"terms.factors.{f}")) for f, w in (t.get("factors") or {}).items()}
        if not factors or sum(Decimal(w) for w in factors.values()) != 1:
            raise _bad("terms.factors", "weights that add up to 1")
        t["factors"] = factors
        recipients = {str(k): v for k, v in (t.get("recipients") or {}).items()}
        if not recipients or {int(k) for k in recipients} != set(roles.get("recipient", [])):
            raise _bad("terms.recipients", "one entry per recipient party")
        for org, spec in recipients.items():
            for f in factors:
                if f == "water_quality":
                    if spec.get("section") not in sections:
                        raise _bad(f"terms.recipients.{org}.section", "one of the version's sections")
                else:
                    spec[f] = str(_ratio(spec.get(f), f"terms.recipients.{org}.{f}"))
        t["recipients"] = recipients
    else:
        raise _bad("formula_kind", f"one of {', '.join(FormulaKind.values)}")
    return t


def _content_hash(version: AgreementVersion) -> str:
    body = {"agreement": version.agreement.code, "version": version.version, "formula_kind": version.formula_kind,
            "terms": version.terms, "periods": version.periods,
            "sections": sorted(version.sections.values_list("code", flat=True)),
            "parties": sorted([p.organization_id, p.role, p.contribution] for p in version.parties.all()),
            "indicators": sorted([vi.indicator.code, vi.target_class, str(vi.limit), str(vi.baseline), str(vi.weight)]
                                 for vi in version.indicators.select_related("indicator"))}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _may_propose(membership: Membership, party_ids: set[int]) -> None:
    org = membership.organization
    if membership.role != "admin" or not (org.kind == "exchange_operator" or org.id in party_ids):
        raise DomainError("permission_denied")


@transaction.atomic
def version_create(*, membership: Membership, agreement: Agreement | None = None, code: str = "", name_zh: str = "",
                   name_en: str = "", basin_id: str | None = None, formula_kind: str, terms: dict,
                   parties: list[dict], sections: list[str], indicators: list[dict], periods: list[dict],
                   description: str = "") -> AgreementVersion:
    try:
        return _version_create(membership=membership, agreement=agreement, code=code, name_zh=name_zh,
                               name_en=name_en, basin_id=basin_id, formula_kind=formula_kind, terms=terms,
                               parties=parties, sections=sections, indicators=indicators, periods=periods,
                               description=description)
    except (TypeError, ValueError, KeyError, AttributeError, InvalidOperation) as exc:
        # a body of the wrong shape inside `terms`, `parties`, … (JSON the serializer cannot type): a 400, not a
        # 500; nothing has been written yet when the shape checks fail
        raise _bad("body", f"malformed: {type(exc).__name__}") from None


def _version_create(*, membership: Membership, agreement: Agreement | None, code: str, name_zh: str, name_en: str,
                    basin_id: str | None, formula_kind: str, terms: dict, parties: list[dict], sections: list[str],
                    indicators: list[dict], periods: list[dict], description: str) -> AgreementVersion:
    """A new agreement (when `agreement` is None, under `code`) or a new version of `agreement`. Signed
    versions are never edited: a change is this call again. Proposed by an admin of a party or of the
    exchange operator."""
    actor = _actor(membership)
    if formula_kind not in FormulaKind.values:
        raise _bad("formula_kind", f"one of {', '.join(FormulaKind.values)}")
    party_rows, roles = [], {}
    for i, p in enumerate(parties or []):
        org_id = p.get("organization")
        org = (Organization.objects.filter(pk=org_id).first()
               if isinstance(org_id, int) and not isinstance(org_id, bool) else None)
        if org is None or org.kind not in GOVERNMENT_KINDS:
            raise _bad(f"parties[{i}].organization", "a government body (province, city or county)")
        if p.get("role") not in PartyRole.values:
            raise _bad(f"parties[{i}].role", f"one of {', '.join(PartyRole.values)}")
        party_rows.append((org, p["role"], _amount(p.get("contribution", "0"), f"parties[{i}].contribution")))
        roles.setdefault(p["role"], []).append(org.id)
    if len(party_rows) < 2 or len({o.id for o, _, _ in party_rows}) != len(party_rows):
        raise _bad("parties", "at least two different organizations")
    _may_propose(membership, {o.id for o, _, _ in party_rows})
    section_rows = list(MonitoringSection.objects.filter(code__in=sections or []))
    if not section_rows or len(section_rows) != len(set(sections)):
        raise _bad("sections", "known monitoring section codes")
    terms = _normalize_terms(formula_kind, terms, roles, {s.code for s in section_rows})
    indicator_rows = []
    for i, spec in enumerate(indicators or []):
        ind = Indicator.objects.filter(code=spec.get("indicator")).first()
        if ind is None:
            raise _bad(f"indicators[{i}].indicator", "a known indicator code")
        vals = {}
        for f in ("limit", "baseline", "weight"):
            vals[f] = _ratio(spec[f], f"indicators[{i}].{f}") if spec.get(f) not in (None, "") else None
        if formula_kind != "composite_index" and vals["limit"] is None:
            raise _bad(f"indicators[{i}].limit", "required (the target class's standard value)")
        if formula_kind == "composite_index" and (not vals["baseline"] or vals["weight"] is None):
            raise _bad(f"indicators[{i}]", "baseline (> 0) and weight required")
        target_class = spec.get("target_class")
        if target_class is not None and (not isinstance(target_class, int) or isinstance(target_class, bool)
                                         or not 1 <= target_class <= 6):
            raise _bad(f"indicators[{i}].target_class", "1..6 (GB 3838-2002 class I..V, 6 = worse than V)")
        indicator_rows.append((ind, target_class, vals))
    if not indicator_rows:
        raise _bad("indicators", "at least one indicator")
    clean_periods = []
    for i, p in enumerate(periods or []):
        try:
            start, end = date.fromisoformat(p["start"]), date.fromisoformat(p["end"])
        except (KeyError, TypeError, ValueError):
            raise _bad(f"periods[{i}]", "start and end dates, YYYY-MM-DD") from None
        if end < start:
            raise _bad(f"periods[{i}]", "end before start")
        clean_periods.append({"start": start.isoformat(), "end": end.isoformat()})
    if not clean_periods:
        raise _bad("periods", "at least one period")
    worst = formulas.worst_case_payments(formula_kind, terms, roles)
    for org, _role, contribution in party_rows:
        if worst.get(org.id, 0) > contribution:
            raise DomainError(ESCROW_DOES_NOT_COVER, fields={"parties": f"organization {org.id}: contribution "
                                                                       f"{contribution} < {worst[org.id]} fen"})
    if basin_id and not Basin.objects.filter(code=basin_id).exists():
        raise _bad("basin", "a known basin code")
    if agreement is None:
        if Agreement.objects.filter(code=code).exists():
            raise DomainError(AGREEMENT_EXISTS, fields={"code": code})
        if not code or not name_zh:
            raise _bad("code", "code and name_zh required")
        agreement = Agreement.objects.create(code=code, name_zh=name_zh, name_en=name_en, basin_id=basin_id or None,
                                             created_by_org=membership.organization)
    else:
        agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    number = (agreement.versions.aggregate(n=Max("version"))["n"] or 0) + 1
    version = AgreementVersion.objects.create(agreement=agreement, version=number, formula_kind=formula_kind,
                                              terms=terms, periods=clean_periods, content_hash="",
                                              description=description[:500], created_by_id=membership.user_id)
    version.sections.set(section_rows)
    AgreementParty.objects.bulk_create([AgreementParty(version=version, organization=o, role=r, contribution=c)
                                        for o, r, c in party_rows])
    VersionIndicator.objects.bulk_create([VersionIndicator(version=version, indicator=ind, target_class=tc, **vals)
                                          for ind, tc, vals in indicator_rows])
    version.content_hash = _content_hash(version)
    version.save(update_fields=["content_hash"])
    audit_record(actor=actor, action="compensation.version_create", object_type="agreement_version",
                 object_id=version.pk, after={"agreement": agreement.code, "version": number,
                                              "formula_kind": formula_kind, "content_hash": version.content_hash},
                 region_codes=version_regions(version))
    return version


def version_regions(version: AgreementVersion) -> list[str]:
    """The regions a version concerns (its horizontal parties' and its sections'): the approval's and the audit
    events' region codes. The rewarder (the central government, seated in Beijing) is left out: its reward
    by results does not make a horizontal agreement between two provinces one of three."""
    codes = {p.organization.region_id for p in version.parties.select_related("organization")
             if p.role != PartyRole.REWARDER}
    for s in version.sections.all():
        codes.update((s.upstream_region_id, s.downstream_region_id))
    return sorted(codes)


@transaction.atomic
def version_sign(*, membership: Membership, version_id: int) -> AgreementVersion:
    """A party's admin accepts the version (bound to its content hash). The last signature opens the
    regulator's four-eyes approval."""
    version = AgreementVersion.objects.select_for_update().select_related("agreement").get(pk=version_id)
    party_ids = set(version.parties.values_list("organization_id", flat=True))
    if membership.role != "admin" or membership.organization_id not in party_ids:
        raise DomainError(NOT_A_PARTY_ADMIN)
    if version.status != VersionStatus.SIGNING:
        raise DomainError(VERSION_NOT_SIGNING)
    if version.signatures.filter(organization_id=membership.organization_id).exists():
        raise DomainError(ALREADY_SIGNED)
    AgreementSignature.objects.create(version=version, organization_id=membership.organization_id,
                                      user_id=membership.user_id, content_hash=version.content_hash)
    regions = version_regions(version)
    audit_record(actor=_actor(membership), action="compensation.version_sign", object_type="agreement_version",
                 object_id=version.pk, after={"organization": membership.organization_id,
                                              "content_hash": version.content_hash}, region_codes=regions)
    if set(version.signatures.values_list("organization_id", flat=True)) == party_ids:
        version.status = VersionStatus.PENDING_APPROVAL
        version.save(update_fields=["status"])
        _approval_open(version=version, party_ids=party_ids, regions=regions)
    return version


def version_provinces(version: AgreementVersion) -> list[str]:
    """The provinces a version involves: those of `version_regions` (the rewarder's seat left out)."""
    return sorted({province_of(c) for c in version_regions(version)})


def approval_provinces(approval: CompensationApproval) -> list[str]:
    """The provinces whose regulators decide an approval (more than one: four eyes in each)."""
    if approval.version_id:
        return version_provinces(approval.version)
    if approval.assessment_id:
        return version_provinces(approval.assessment.period.version)
    return sorted({province_of(c) for c in approval.region_codes or ()})


def _approval_open(*, party_ids, regions, version=None, assessment=None) -> CompensationApproval:
    provinces = version_provinces(version or assessment.period.version)
    # the exchange's province leads when it is involved; a cross-provincial approval needs two in each province
    jurisdiction = PROVINCE if PROVINCE in provinces or not provinces else provinces[0]
    required = PER_PROVINCE * max(1, len(provinces))
    approval = CompensationApproval.objects.create(version=version, assessment=assessment, jurisdiction=jurisdiction,
                                                   required=required, party_ids=sorted(party_ids),
                                                   region_codes=regions)
    audit_record(actor=Actor.system(), action="compensation.approval_open", object_type="compensation_approval",
                 object_id=approval.pk, after={"version": getattr(version, "pk", None),
                                               "assessment": getattr(assessment, "pk", None), "required": required,
                                               "jurisdiction": jurisdiction, "provinces": provinces},
                 region_codes=regions)
    return approval


# --- four eyes -----------------------------------------------------------------------------------------

def _proposers(approval: CompensationApproval) -> set[int]:
    if approval.version_id:
        return {approval.version.created_by_id} - {None}
    return set()


# the four-eyes rule (oversight.four_eyes), with compensation's own codes: an approver of the operator or
# a regulator; then (once in the approval's jurisdiction) not the proposer, nobody with any membership in
# a party — the person, not the seat; to approve: once each, the final one from the provincial regulator
DECIDER_SEAT = FourEyes(((DecidingSeat, COMPENSATION_NOT_AN_APPROVER),))
DECIDER = FourEyes(((NotProposer, COMPENSATION_APPROVER_CONFLICT), (NotAParty, COMPENSATION_APPROVER_CONFLICT)))
APPROVER = FourEyes(((ApprovesOnce, COMPENSATION_ALREADY_APPROVED), (FinalApprover, COMPENSATION_FINAL_APPROVER)))
APPROVES_ONCE = FourEyes(((ApprovesOnce, COMPENSATION_ALREADY_APPROVED),))  # cross-provincial: finality by province


def check_decider(approval: CompensationApproval, membership: Membership) -> Scope:
    if approval.status != ApprovalStatus.PENDING:
        raise DomainError(COMPENSATION_APPROVAL_CLOSED)
    DECIDER_SEAT.enforce(membership=membership)
    scope = Scope(membership)
    if not (scope.covers(approval.jurisdiction) or scope.covers_any(approval.region_codes)):
        raise DomainError("not_found")
    DECIDER.enforce(user_id=membership.user_id, proposers=_proposers(approval), parties=approval.party_ids)
    provinces = approval_provinces(approval)
    if len(provinces) > 1 and not (scope.is_regulator and scope.jurisdiction.code in provinces):
        raise DomainError(COMPENSATION_PROVINCE_APPROVER)
    return scope


def _cross_provincial_final(approval: CompensationApproval, membership: Membership) -> bool:
    """Two approvals per province: refuse a third from one province; final once every province has two."""
    provinces = approval_provinces(approval)
    given: dict[str, int] = dict.fromkeys(provinces, 0)
    for jurisdiction in approval.decisions.filter(decision="approve").values_list("organization__jurisdiction_id",
                                                                                   flat=True):
        if jurisdiction in given:
            given[jurisdiction] += 1
    mine = membership.organization.jurisdiction_id
    if given[mine] >= PER_PROVINCE:
        raise DomainError(COMPENSATION_PROVINCE_DONE)
    given[mine] += 1
    return all(n >= PER_PROVINCE for n in given.values())


@transaction.atomic
def approval_decide(*, membership: Membership, approval_id: int, decision: str, reason: str = "",
                    now: datetime | None = None) -> CompensationApproval:
    now = now or timezone.now()
    approval = (CompensationApproval.objects.select_for_update(of=("self",))
                .select_related("version", "assessment").filter(pk=approval_id).first())
    if approval is None:
        raise DomainError("not_found")
    check_decider(approval, membership)
    actor = _actor(membership)
    if decision == "approve":
        given = set(approval.decisions.filter(decision="approve").values_list("user_id", flat=True))
        if len(approval_provinces(approval)) > 1:
            APPROVES_ONCE.enforce(user_id=membership.user_id, approved_by=given)
            final = _cross_provincial_final(approval, membership)
        else:
            final = len(given) + 1 >= approval.required
            APPROVER.enforce(user_id=membership.user_id, approved_by=given, membership=membership, final=final,
                             jurisdiction=approval.jurisdiction)
    elif decision == "reject":
        if not reason.strip():
            raise DomainError("validation_error", fields={"reason": "required"})
        # a reject closes the approval, so a pending one's earlier decision by this person is an approval: one
        # decision per person (the unique constraint would otherwise answer a 500; the invariant suite found it)
        if approval.decisions.filter(user_id=membership.user_id).exists():
            raise DomainError(COMPENSATION_ALREADY_APPROVED)
        final = True
    else:
        raise DomainError("validation_error", fields={"decision": "approve or reject"})
    ApprovalDecision.objects.create(approval=approval, user_id=membership.user_id,
                                    organization_id=membership.organization_id, decision=decision, reason=reason[:500])
    audit_record(actor=actor, action=f"compensation.approval_{decision}", object_type="compensation_approval",
                 object_id=approval.pk, after={"final": final, "reason": reason[:500]},
                 region_codes=approval.region_codes)
    if not final:
        return approval
    approval.status = ApprovalStatus.APPROVED if decision == "approve" else ApprovalStatus.REJECTED
    approval.decided_at = now
    approval.save(update_fields=["status", "decided_at"])
    if approval.version_id:
        _version_decided(approval.version, decision == "approve", actor, now)
    else:
        _assessment_decided(approval.assessment, decision == "approve", actor, now)
    return approval


def _version_decided(version: AgreementVersion, approved: bool, actor: Actor, now: datetime) -> None:
    if not approved:
        version.status = VersionStatus.REJECTED
        version.save(update_fields=["status"])
        return
    previous = AgreementVersion.objects.filter(agreement_id=version.agreement_id, status=VersionStatus.IN_FORCE).first()
    if previous is not None:
        previous.status = VersionStatus.SUPERSEDED
        previous.save(update_fields=["status"])
        Period.objects.filter(version=previous, status=PeriodStatus.SCHEDULED).update(status=PeriodStatus.CANCELLED)
    version.status, version.in_force_at = VersionStatus.IN_FORCE, now
    version.save(update_fields=["status", "in_force_at"])
    live = set(Period.objects.filter(agreement_id=version.agreement_id).exclude(status=PeriodStatus.CANCELLED)
               .values_list("start", flat=True))
    Period.objects.bulk_create([Period(agreement_id=version.agreement_id, version=version,
                                       start=date.fromisoformat(p["start"]), end=date.fromisoformat(p["end"]))
                                for p in version.periods if date.fromisoformat(p["start"]) not in live])
    audit_record(actor=actor, action="compensation.version_in_force", object_type="agreement_version",
                 object_id=version.pk, after={"agreement": version.agreement_id, "version": version.version},
                 region_codes=version_regions(version))


def _assessment_decided(assessment: Assessment, approved: bool, actor: Actor, now: datetime) -> None:
    if approved:
        assessment.status, assessment.approved_at = AssessmentStatus.APPROVED, now
        assessment.save(update_fields=["status", "approved_at"])
        if assessment.objection_until <= now and not assessment.objections.filter(status="open").exists():
            assessment_settle(assessment_id=assessment.pk, now=now)
    else:
        _assessment_reject(assessment)


def _assessment_reject(assessment: Assessment) -> None:
    assessment.status = AssessmentStatus.REJECTED
    assessment.save(update_fields=["status"])
    Period.objects.filter(pk=assessment.period_id).update(status=PeriodStatus.FUNDED)
    CompensationApproval.objects.filter(assessment=assessment, status=ApprovalStatus.PENDING).update(
        status=ApprovalStatus.REJECTED, decided_at=timezone.now())


# --- monitoring data -----------------------------------------------------------------------------------

def _month(raw) -> date:
    s = str(raw or "")
    try:
        d = date.fromisoformat(s + "-01" if len(s) == 7 else s)
    except ValueError:
        raise ValueError("a month, YYYY-MM") from None
    if d.day != 1:
        raise ValueError("a month, YYYY-MM")
    return d


@transaction.atomic
def measurements_submit(*, membership: Membership, rows: list[dict], source: str = "api",
                        today: date | None = None) -> list[Measurement]:
    """Record measurements (all or nothing). Each row: section, indicator, month (YYYY-MM), value (a decimal
    string), unit (must be the indicator's), reason (required when the month already has a value: the
    correction becomes the next version; nothing is overwritten). Only the section's station submits."""
    today = today or timezone.localdate()
    org = membership.organization
    if org.kind != "monitoring_station" or membership.role not in ("admin", "trader"):
        raise DomainError(NOT_A_STATION)
    if not rows:
        raise DomainError(INVALID_MEASUREMENT, fields={"rows": "at least one measurement"})
    sections = {s.code: s for s in MonitoringSection.objects.filter(code__in={str(r.get("section")) for r in rows})}
    indicators = {i.code: i for i in Indicator.objects.filter(code__in={str(r.get("indicator")) for r in rows})}
    errors, clean = {}, []
    for n, r in enumerate(rows):
        section, ind = sections.get(str(r.get("section"))), indicators.get(str(r.get("indicator")))
        try:
            if section is None:
                raise ValueError("section: unknown section code")
            if section.station_id != org.id:
                raise PermissionError
            if ind is None:
                raise ValueError("indicator: unknown indicator code")
            if str(r.get("unit", "")) != ind.unit:
                raise ValueError(f"unit: must be {ind.unit}")
            month = _month(r.get("month"))
            if month > today:
                raise ValueError("month: in the future")
            raw = r.get("value")
            if not isinstance(raw, str) or not VALUE_RE.fullmatch(raw):
                raise ValueError("value: a decimal string")
            value = Decimal(raw)
            if -value.as_tuple().exponent > ind.scale:
                raise ValueError(f"value: at most {ind.scale} decimal places")
            if not (ind.min_value <= value <= ind.max_value):
                raise ValueError(f"value: outside the valid range {ind.min_value}..{ind.max_value} {ind.unit}")
        except PermissionError:
            raise DomainError(NOT_A_STATION, fields={f"rows[{n}].section": "reported by another station"}) from None
        except (ValueError, InvalidOperation) as exc:
            errors[f"rows[{n}]"] = str(exc)
            continue
        clean.append((section, ind, month, value, str(r.get("reason") or "").strip()[:300]))
    if errors:
        raise DomainError(INVALID_MEASUREMENT, fields=errors)
    out = []
    for n, (section, ind, month, value, reason) in enumerate(clean):
        latest = (Measurement.objects.select_for_update().filter(section=section, indicator=ind, month=month)
                  .order_by("-version").first())
        if latest is not None and not reason:
            raise DomainError(CORRECTION_REASON_REQUIRED, fields={f"rows[{n}].reason": "required for a correction"})
        m = Measurement.objects.create(section=section, indicator=ind, month=month, value=value,
                                       version=(latest.version + 1) if latest else 1,
                                       reason=reason if latest else "", station=org,
                                       submitted_by_id=membership.user_id, source=source)
        out.append(m)
    audit_record(actor=_actor(membership), action="compensation.measurements_submit", object_type="measurement",
                 object_id=out[0].pk, after={"count": len(out), "source": source,
                                             "corrections": sum(m.version > 1 for m in out),
                                             "ids": [m.pk for m in out][:200]},
                 region_codes=sorted({c for m in out for c in (m.section.upstream_region_id,
                                                               m.section.downstream_region_id)}))
    return out


def data_in_force(section_ids, start: date, end: date) -> dict[tuple, Measurement]:
    """{(section code, indicator code, month): latest measurement} for the months of [start, end]."""
    out: dict[tuple, Measurement] = {}
    rows = (Measurement.objects.filter(section_id__in=section_ids, month__gte=date(start.year, start.month, 1),
                                       month__lte=end).select_related("section", "indicator")
            .order_by("section_id", "indicator_id", "month", "version"))
    for m in rows:
        out[(m.section.code, m.indicator.code, m.month)] = m
    return out


# --- the period cycle ----------------------------------------------------------------------------------

def _roles(version: AgreementVersion) -> dict[str, list[int]]:
    roles: dict[str, list[int]] = {}
    for p in version.parties.order_by("id"):
        roles.setdefault(p.role, []).append(p.organization_id)
    return roles


@transaction.atomic
def period_fund(*, period_id: int, now: datetime | None = None) -> Period:
    """Hold every party's contribution (one `compensation_hold` ledger transaction). A party short of
    funds leaves the period unfunded (nothing held) with the reason recorded; the tick tries again."""
    now = now or timezone.now()
    period = Period.objects.select_for_update().select_related("version").get(pk=period_id)
    if period.status != PeriodStatus.SCHEDULED:
        return period
    cash = cny()
    parties = list(period.version.parties.filter(contribution__gt=0).order_by("organization_id"))
    keys = [(p.organization_id, cash.id, AccountKind.PARTICIPANT) for p in parties]
    ids = accounts_ensure(keys)
    legs = [leg for p, k in zip(parties, keys, strict=True)
            for leg in (Leg(ids[k], AVAILABLE, -p.contribution), Leg(ids[k], HELD, p.contribution))]
    actor = Actor.system()
    request = {"period": period.pk, "contributions": {str(p.organization_id): p.contribution for p in parties}}
    try:
        with transaction.atomic():
            posted = post(kind=KIND_HOLD, idempotency_key=f"compensation:period:{period.pk}:hold", request=request,
                          legs=legs, actor=actor, reference=("compensation_period", period.pk),
                          memo={"agreement": period.agreement_id, "start": period.start.isoformat()})
    except DomainError as exc:
        period.funding_error = f"{exc.code} at {now.isoformat()}"[:200]
        period.save(update_fields=["funding_error"])
        audit_record(actor=actor, action="compensation.period_funding_failed", object_type="compensation_period",
                     object_id=period.pk, after={"code": exc.code}, region_codes=version_regions(period.version))
        return period
    period.status, period.funded_at, period.funding_error = PeriodStatus.FUNDED, now, ""
    period.hold_transactions = [posted.transaction_id]
    period.save(update_fields=["status", "funded_at", "funding_error", "hold_transactions"])
    audit_record(actor=actor, action="compensation.period_fund", object_type="compensation_period", object_id=period.pk,
                 after={**request, "ledger_transaction": posted.transaction_id},
                 region_codes=version_regions(period.version))
    return period


def targets_of(version: AgreementVersion) -> list[formulas.Target]:
    return [formulas.Target(code=vi.indicator.code, limit=vi.limit, baseline=vi.baseline, weight=vi.weight)
            for vi in version.indicators.select_related("indicator").order_by("id")]


@transaction.atomic
def period_assess(*, period_id: int, now: datetime | None = None) -> Assessment | None:
    """Compute the period's result from the data in force and the version's formula; store the steps and
    open the four-eyes approval. Idempotent: a period with a live assessment is left alone."""
    now = now or timezone.now()
    period = Period.objects.select_for_update().select_related("version__agreement").get(pk=period_id)
    if period.status != PeriodStatus.FUNDED:
        return None
    if period.assessments.exclude(status=AssessmentStatus.REJECTED).exists():
        return None
    version = period.version
    section_ids = list(version.sections.values_list("id", flat=True))
    data = data_in_force(section_ids, period.start, period.end)
    result = formulas.compute(version.formula_kind, terms=version.terms, targets=targets_of(version),
                              data={k: m.value for k, m in data.items()},
                              period_months=formulas.months(period.start, period.end), roles=_roles(version))
    inputs = [{"id": m.pk, "section": k[0], "indicator": k[1], "month": k[2].isoformat()[:7], "version": m.version,
               "value": str(m.value)} for k, m in sorted(data.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2]))]
    attempt = (period.assessments.aggregate(n=Max("attempt"))["n"] or 0) + 1
    mark = Measurement.objects.aggregate(n=Max("id"))["n"] or 0
    assessment = Assessment.objects.create(period=period, attempt=attempt, inputs=inputs, data_mark=mark,
                                           steps=result.steps,
                                           outcome=result.outcome[:200], transfers=result.transfers,
                                           computed_at=now, objection_until=now + timedelta(days=OBJECTION_DAYS))
    period.status = PeriodStatus.ASSESSED
    period.save(update_fields=["status"])
    regions = version_regions(version)
    audit_record(actor=Actor.system(), action="compensation.assess", object_type="compensation_assessment",
                 object_id=assessment.pk, after={"period": period.pk, "outcome": result.outcome,
                                                 "transfers": result.transfers}, region_codes=regions)
    _approval_open(assessment=assessment, party_ids=set(version.parties.values_list("organization_id", flat=True)),
                   regions=regions)
    return assessment


@transaction.atomic
def objection_raise(*, membership: Membership, assessment_id: int, reason: str,
                    now: datetime | None = None) -> Objection:
    now = now or timezone.now()
    assessment = Assessment.objects.select_for_update().select_related("period__version").get(pk=assessment_id)
    party_ids = set(assessment.period.version.parties.values_list("organization_id", flat=True))
    if membership.role != "admin" or membership.organization_id not in party_ids:
        raise DomainError(NOT_A_PARTY_ADMIN)
    if not reason.strip():
        raise DomainError("validation_error", fields={"reason": "required"})
    if (assessment.status not in (AssessmentStatus.PENDING, AssessmentStatus.APPROVED)
            or assessment.objection_until <= now):
        raise DomainError(OBJECTION_WINDOW_CLOSED)
    obj = Objection.objects.create(assessment=assessment, organization_id=membership.organization_id,
                                   user_id=membership.user_id, reason=reason[:500])
    audit_record(actor=_actor(membership), action="compensation.object", object_type="compensation_assessment",
                 object_id=assessment.pk, after={"objection": obj.pk, "reason": reason[:500]},
                 region_codes=version_regions(assessment.period.version))
    return obj


@transaction.atomic
def objection_resolve(*, membership: Membership, objection_id: int, uphold: bool, resolution: str,
                      now: datetime | None = None) -> Objection:
    """A regulator (four-eyes decider rules: not a party's member) dismisses the objection (the settlement
    may proceed) or upholds it (the assessment is rejected; the period will be assessed again)."""
    now = now or timezone.now()
    obj = Objection.objects.select_for_update().select_related("assessment").filter(pk=objection_id).first()
    if obj is None:
        raise DomainError("not_found")
    approval = obj.assessment.approval
    if approval.status == ApprovalStatus.PENDING:
        check_decider(approval, membership)
    else:  # the approval is complete: the same people rules, checked against a pending stand-in
        check_decider(CompensationApproval(jurisdiction=approval.jurisdiction, party_ids=approval.party_ids,
                                           region_codes=approval.region_codes, version_id=approval.version_id,
                                           assessment_id=approval.assessment_id), membership)
    if obj.status != "open":
        raise DomainError(OBJECTION_NOT_OPEN)
    if not resolution.strip():
        raise DomainError("validation_error", fields={"resolution": "required"})
    obj.status, obj.resolved_at, obj.resolved_by_id = ("upheld" if uphold else "dismissed"), now, membership.user_id
    obj.resolution = resolution[:500]
    obj.save(update_fields=["status", "resolved_at", "resolved_by", "resolution"])
    assessment = Assessment.objects.select_for_update().get(pk=obj.assessment_id)
    audit_record(actor=_actor(membership), action=f"compensation.objection_{obj.status}",
                 object_type="compensation_assessment", object_id=assessment.pk,
                 after={"objection": obj.pk, "resolution": obj.resolution}, region_codes=approval.region_codes)
    if uphold and assessment.status in (AssessmentStatus.PENDING, AssessmentStatus.APPROVED):
        _assessment_reject(assessment)
    return obj


@transaction.atomic
def assessment_settle(*, assessment_id: int, now: datetime | None = None) -> Assessment:
    """Pay the transfers out of the escrow into the payees' earmarked funds and release the rest: two
    ledger transactions, idempotent by the assessment's id. Only an approved assessment whose objection
    window is over without an open objection settles."""
    now = now or timezone.now()
    a = Assessment.objects.select_for_update().select_related("period__version").get(pk=assessment_id)
    if a.status != AssessmentStatus.APPROVED or a.objection_until > now or a.objections.filter(status="open").exists():
        return a
    period = a.period
    cash = cny()
    contributions = {p.organization_id: p.contribution for p in period.version.parties.all()}
    paid: dict[int, int] = {}
    for t in a.transfers:
        paid[t["payer"]] = paid.get(t["payer"], 0) + t["amount"]
    assert all(paid[o] <= contributions.get(o, 0) for o in paid), "escrow does not cover the transfers"
    keys = {o: (o, cash.id, AccountKind.PARTICIPANT) for o in contributions}
    fund_keys = {t["payee"]: fund_account_key(t["payee"], BASIN, cash.id) for t in a.transfers}
    ids = accounts_ensure(list(keys.values()) + list(fund_keys.values()))
    actor, txns = Actor.system(), []
    if a.transfers:
        legs = [leg for t in a.transfers for leg in (Leg(ids[keys[t["payer"]]], HELD, -t["amount"]),
                                                     Leg(ids[fund_keys[t["payee"]]], AVAILABLE, t["amount"]))]
        txns.append(post(kind=KIND_TRANSFER, idempotency_key=f"compensation:assessment:{a.pk}:transfer",
                         request={"assessment": a.pk, "transfers": a.transfers}, legs=legs, actor=actor,
                         reference=("compensation_assessment", a.pk),
                         memo={"agreement": period.agreement_id, "period": period.start.isoformat(),
                               "fund": BASIN, "purpose_codes": EARMARK_PURPOSE_CODES,
                               "outcome": a.outcome}).transaction_id)
    rest = {o: c - paid.get(o, 0) for o, c in contributions.items() if c - paid.get(o, 0) > 0}
    if rest:
        legs = [leg for o, amount in sorted(rest.items())
                for leg in (Leg(ids[keys[o]], HELD, -amount), Leg(ids[keys[o]], AVAILABLE, amount))]
        txns.append(post(kind=KIND_RELEASE, idempotency_key=f"compensation:assessment:{a.pk}:release",
                         request={"assessment": a.pk, "released": {str(o): v for o, v in rest.items()}}, legs=legs,
                         actor=actor, reference=("compensation_assessment", a.pk),
                         memo={"agreement": period.agreement_id, "period": period.start.isoformat()}).transaction_id)
    a.status, a.settled_at, a.settlement_transactions = AssessmentStatus.SETTLED, now, txns
    a.save(update_fields=["status", "settled_at", "settlement_transactions"])
    Period.objects.filter(pk=period.pk).update(status=PeriodStatus.SETTLED)
    audit_record(actor=actor, action="compensation.settle", object_type="compensation_assessment", object_id=a.pk,
                 after={"transfers": a.transfers, "released": rest, "ledger_transactions": txns},
                 region_codes=version_regions(period.version))
    return a


def _needs_assessment(period: Period) -> bool:
    last = period.assessments.order_by("-attempt").first()
    if last is None:
        return True
    if last.status != AssessmentStatus.REJECTED:
        return False
    # after a rejection, assess again once the data has changed (a correction)
    sections = period.version.sections.values_list("id", flat=True)
    return Measurement.objects.filter(section_id__in=sections, pk__gt=last.data_mark,
                                      month__gte=period.start, month__lte=period.end).exists()


def compensation_tick(*, now: datetime | None = None, today: date | None = None) -> dict:
    """Fund periods that have begun, assess periods that have ended, settle approved assessments whose
    objection window is over. Each step its own transaction; safe to run concurrently and repeatedly."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    out = {"funded": 0, "assessed": 0, "settled": 0}
    for pk in Period.objects.filter(status=PeriodStatus.SCHEDULED, start__lte=today,
                                    version__status=VersionStatus.IN_FORCE).values_list("id", flat=True):
        out["funded"] += period_fund(period_id=pk, now=now).status == PeriodStatus.FUNDED
    for period in Period.objects.filter(status=PeriodStatus.FUNDED, end__lt=today).select_related("version"):
        if _needs_assessment(period) and period_assess(period_id=period.pk, now=now) is not None:
            out["assessed"] += 1
    for pk in Assessment.objects.filter(status=AssessmentStatus.APPROVED, objection_until__lte=now).values_list(
            "id", flat=True):
        out["settled"] += assessment_settle(assessment_id=pk, now=now).status == AssessmentStatus.SETTLED
    return out
