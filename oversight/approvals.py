"""Approvals: the four-eyes workflow for trades the rulebook holds PENDING_APPROVAL, with a deadline,
escalation, automatic rejection, and the public-notice period (公示) of water-rights trades.

Opening. Trading puts a trade in PENDING_APPROVAL (at match, or at the settlement re-check) without
knowing about oversight (layers: trading cannot import oversight); after the commit it sends the signal
`trading.common.signals.trades_pending_approval`, whose receiver here (`on_trades_pending_approval`,
connected in `OversightConfig.ready`) opens an `ApprovalRequest` for each such trade at once.
`approvals_sync`, run by beat in every `approvals_tick`, is the backstop (a receiver that failed, a
process that died after the commit). Reads never open requests. Opening evaluates the rulebook in
force for the trade (`evaluate_all`) and records
  * the approval rules' codes and the jurisdiction that gives the final approval (when several rules
    name different jurisdictions, the most senior one: the province before a city);
  * required approvals: 2 when any rule asks for approval, 0 when the trade is held only for notice;
  * the deadline: `OVERSIGHT_APPROVAL_WORKING_DAYS` (default 2) working days (Mon–Fri, minus
    `marketplace.Holiday`) after the trade became pending; escalation at half that time;
  * the notice end, for a public-notice rule: `days` calendar (or working) days after pending.
The proposers — the users who placed the buy and sell orders, the listing's creator and the buyer's
bid — may never decide (four eyes), nor may anyone who belongs, through any membership, to the buyer or
the seller (conflict of interest); approvals count people, so two memberships of one person are one
approver. The rule's checks are the shared ones of `oversight.four_eyes` (F-EYES-001…007).

Deciding. Two distinct people approve: the first an approver/admin of the exchange operator or of a
regulator whose jurisdiction covers the trade; the second (final) one an approver/admin of the regulator
whose jurisdiction is the one named. One approval is not enough; the same person twice is refused.
Anyone who may approve may also reject (a veto: the trade is rejected and its holds released). During
the notice period a regulator covering the trade may object, which rejects the trade.

Releasing. Notice: chosen design — the trade stays PENDING_APPROVAL (its settlement outbox row stays
pending and is not swept) until both the approvals are complete and the notice has ended without
objection; only then is `trading.settlement.services.trade_approve` called, which marks it APPROVED, makes the
outbox row due and nudges settlement after commit. The settlement re-check still runs then: a trade
that became non-compliant in the meantime fails with its holds released.

Time. `approvals_tick` (beat, every 30 s): escalates at half-time (an `approval.escalate` audit event
and an `approval_overdue` alert), rejects requests past their deadline (`trade_fail(status="rejected",
reason="approval_expired")`, releasing holds), and releases trades whose notice has ended.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import Membership
from core import conf
from core.errors import DomainError
from ledger.models import Asset
from marketplace.models import Holiday
from marketplace.rules import CheckContext, evaluate_all
from trading.models import Bid, Listing, Trade, TradeEvent, TradeStatus
from trading.settlement.services import trade_approve, trade_fail

from .errors import (
    ALREADY_APPROVED,
    APPROVAL_CLOSED,
    APPROVALS_COMPLETE,
    APPROVER_CONFLICT,
    FINAL_APPROVER_JURISDICTION,
    NO_APPROVAL_NEEDED,
    NOT_AN_APPROVER,
    NOT_IN_NOTICE,
    ONLY_REGULATOR_OBJECTS,
    PROPOSER_CANNOT_DECIDE,
)
from .four_eyes import ApprovesOnce, DecidingSeat, FinalApprover, FourEyes, NotAParty, NotProposer
from .models import Alert, ApprovalDecision, ApprovalRequest, ApprovalStatus, Decision
from .scope import Scope

log = logging.getLogger(__name__)


# --- calendar ----------------------------------------------------------------------------------------

def add_working_days(start: datetime, days: int) -> datetime:
    """`start` moved forward by `days` working days (Mon–Fri, not a `Holiday`), same local time of day."""
    local = timezone.localtime(start)
    holidays = set(Holiday.objects.filter(date__gt=local.date(), date__lte=local.date() + timedelta(days=days * 3 + 30))
                   .values_list("date", flat=True))
    d, counted = local.date(), 0
    while counted < days:
        d += timedelta(days=1)
        if d.weekday() < 5 and d not in holidays:
            counted += 1
    return local.replace(year=d.year, month=d.month, day=d.day)


def _seniority(code: str) -> int:
    return 0 if code.endswith("0000") else (1 if code.endswith("00") else 2)


# --- opening -----------------------------------------------------------------------------------------

def _proposers(trade: Trade) -> list[int]:
    users = set()
    for order in (trade.buy_order, trade.sell_order):
        if order is not None and order.user_id:
            users.add(order.user_id)
    if trade.listing_id:
        creator = Listing.objects.filter(pk=trade.listing_id).values_list("created_by_id", flat=True).first()
        if creator:
            users.add(creator)
        users.update(u for u in Bid.objects.filter(listing_id=trade.listing_id, bidder_id=trade.buyer_id)
                     .values_list("user_id", flat=True) if u)
    return sorted(users)


def _pending_since(trade: Trade) -> datetime:
    at = (TradeEvent.objects.filter(trade=trade, status=TradeStatus.PENDING_APPROVAL).order_by("-id")
          .values_list("created_at", flat=True).first())
    return at or trade.created_at


def _open(trade: Trade, now: datetime) -> ApprovalRequest:
    asset = Asset.objects.get(pk=trade.asset_id)
    since = _pending_since(trade)
    version, refusals = evaluate_all(CheckContext(stage="trade", asset=asset, at=now, buyer=trade.buyer,
                                                  seller=trade.seller, price=trade.price, quantity=trade.quantity))
    approvals = [r for r in refusals if r.needs_approval and not r.notice_days]
    notices = [r for r in refusals if r.needs_approval and r.notice_days]
    if not approvals and not notices:
        # the rulebook no longer says why (it changed since): fall back on what trading recorded
        detail = (TradeEvent.objects.filter(trade=trade, status=TradeStatus.PENDING_APPROVAL).order_by("-id")
                  .values_list("detail", flat=True).first()) or {}
        province = (asset.origin_region_id or trade.buyer.region_id)[:2] + "0000"
        codes = [detail["rule"]] if detail.get("rule") else []
        jurisdiction = detail.get("jurisdiction") or province
    else:
        codes = [r.code for r in approvals + notices]
        named = sorted({r.jurisdiction for r in approvals if r.jurisdiction}, key=lambda c: (_seniority(c), c))
        jurisdiction = named[0] if named else ((asset.origin_region_id or "350000")[:2] + "0000" if approvals else "")
    required = 2 if (approvals or not notices) else 0
    deadline = escalate_at = None
    if required:
        deadline = add_working_days(since, conf.get("OVERSIGHT_APPROVAL_WORKING_DAYS"))
        escalate_at = since + (deadline - since) / 2
    notice_until = None
    for r in notices:
        end = add_working_days(since, r.notice_days) if r.notice_working_days else since + timedelta(days=r.notice_days)
        notice_until = max(notice_until, end) if notice_until else end
    regions = sorted({c for c in (trade.buyer.region_id, trade.seller.region_id, asset.origin_region_id, jurisdiction)
                      if c})
    req = ApprovalRequest.objects.create(
        trade=trade, rule_codes=codes, rule_version=version, jurisdiction=jurisdiction or "",
        required_approvals=required, proposer_user_ids=_proposers(trade), region_codes=regions,
        pending_since=since, deadline=deadline, escalate_at=escalate_at, notice_until=notice_until)
    audit_record(actor=Actor.system(), action="approval.open", object_type="approval", object_id=req.id,
                 after={"trade": trade.id, "rules": codes, "jurisdiction": jurisdiction, "required": required,
                        "deadline": deadline.isoformat() if deadline else None,
                        "notice_until": notice_until.isoformat() if notice_until else None},
                 region_codes=regions)
    return req


def approvals_sync(*, now: datetime | None = None, limit: int = 500, trade_ids: list[int] | None = None) -> int:
    """Open a request for every trade PENDING_APPROVAL that has none (only among `trade_ids`, when given).
    Idempotent and concurrency-safe (the trade row is locked, the request is one-to-one with the trade)."""
    now = now or timezone.now()
    pending = Trade.objects.filter(status=TradeStatus.PENDING_APPROVAL)
    if trade_ids is not None:
        pending = pending.filter(pk__in=trade_ids)
    ids = list(pending.exclude(Exists(ApprovalRequest.objects.filter(trade_id=OuterRef("pk"))))
               .order_by("id").values_list("id", flat=True)[:limit])
    opened = 0
    for trade_id in ids:
        with transaction.atomic():
            trade = (Trade.objects.select_for_update(of=("self",))
                     .select_related("buyer", "seller", "buy_order", "sell_order").filter(pk=trade_id).first())
            if trade is None or trade.status != TradeStatus.PENDING_APPROVAL:
                continue
            if ApprovalRequest.objects.filter(trade_id=trade_id).exists():
                continue
            _open(trade, now)
            opened += 1
    return opened


def on_trades_pending_approval(sender, *, trade_ids: list[int], **kwargs) -> None:
    """Receiver of `trades_pending_approval` (sent after the trades' commit): open their requests now."""
    approvals_sync(trade_ids=trade_ids)


# --- deciding ----------------------------------------------------------------------------------------

def _locked(request_id: int) -> ApprovalRequest:
    req = (ApprovalRequest.objects.select_for_update(of=("self",))
           .select_related("trade__buyer", "trade__seller").filter(pk=request_id).first())
    if req is None:
        raise DomainError("not_found")
    return req


def _origin(req: ApprovalRequest) -> str | None:
    return Asset.objects.filter(pk=req.trade.asset_id).values_list("origin_region_id", flat=True).first()


# the four-eyes rule of trade approvals (oversight.four_eyes): not a proposer, not from the buyer or the
# seller (the person, not the seat), an approver of the operator or a regulator; to approve: once each,
# the final approval from the regulator of the named jurisdiction
DECIDER = FourEyes(((NotProposer, PROPOSER_CANNOT_DECIDE), (NotAParty, APPROVER_CONFLICT),
                    (DecidingSeat, NOT_AN_APPROVER)))
APPROVER = FourEyes(((ApprovesOnce, ALREADY_APPROVED), (FinalApprover, FINAL_APPROVER_JURISDICTION)))


def _check_decider(req: ApprovalRequest, membership: Membership) -> Scope:
    if req.status != ApprovalStatus.PENDING:
        raise DomainError(APPROVAL_CLOSED)
    DECIDER.enforce(user_id=membership.user_id, proposers=req.proposer_user_ids or [], membership=membership,
                    parties=(req.trade.buyer_id, req.trade.seller_id))
    scope = Scope(membership)
    if not (scope.trade_visible(req.trade, _origin(req)) or scope.covers(req.jurisdiction)):
        raise DomainError("not_found")
    return scope


def _actor(membership: Membership) -> Actor:
    return Actor(user_id=membership.user_id, organization_id=membership.organization_id, role=membership.role,
                 organization_kind=membership.organization.kind)


def _decide(req: ApprovalRequest, membership: Membership, decision: str, reason: str, actor: Actor) -> ApprovalDecision:
    d = ApprovalDecision.objects.create(request=req, decision=decision, user_id=membership.user_id,
                                        organization_id=membership.organization_id, role=membership.role,
                                        reason=reason[:500])
    audit_record(actor=actor, action=f"approval.{decision}", object_type="approval", object_id=req.id,
                 after={"trade": req.trade_id, "decision": decision, "reason": reason[:500]},
                 region_codes=req.region_codes)
    return d


@transaction.atomic
def approval_approve(*, membership: Membership, request_id: int, comment: str = "", actor: Actor | None = None,
                     now: datetime | None = None) -> ApprovalRequest:
    now = now or timezone.now()
    actor = actor or _actor(membership)
    req = _locked(request_id)
    _check_decider(req, membership)
    if req.required_approvals == 0:
        raise DomainError(NO_APPROVAL_NEEDED)
    if req.approvals_completed_at is not None:
        raise DomainError(APPROVALS_COMPLETE)
    given = list(req.decisions.filter(decision=Decision.APPROVE).values_list("user_id", flat=True))
    final = len(given) + 1 >= req.required_approvals
    APPROVER.enforce(user_id=membership.user_id, approved_by=given, membership=membership, final=final,
                     jurisdiction=req.jurisdiction)
    _decide(req, membership, Decision.APPROVE, comment, actor)
    if final:
        req.approvals_completed_at = now
        req.save(update_fields=["approvals_completed_at"])
        _release_if_due(req, now, actor)
    return req


def _close(req: ApprovalRequest, status: str, reason: str, now: datetime) -> None:
    req.status = status
    req.decided_at = now
    req.outcome_reason = reason[:200]
    req.save(update_fields=["status", "decided_at", "outcome_reason"])


def _reject_trade(req: ApprovalRequest, actor: Actor, reason: str, status: str, now: datetime) -> None:
    try:
        with transaction.atomic():
            trade_fail(trade_id=req.trade_id, reason=reason, actor=actor, status=TradeStatus.REJECTED)
    except DomainError as exc:  # the trade left PENDING_APPROVAL some other way
        log.warning("approval %s: trade %s could not be rejected: %s", req.id, req.trade_id, exc.code)
        _close(req, ApprovalStatus.CANCELLED, f"trade_not_pending:{exc.code}", now)
        return
    _close(req, status, reason, now)


def _release_if_due(req: ApprovalRequest, now: datetime, actor: Actor) -> bool:
    """Approve the trade when its approvals are complete and its notice (if any) is over."""
    if not req.approvals_complete or (req.notice_until and req.notice_until > now):
        return False
    note = f"approval {req.id}" + (" (public notice ended)" if req.notice_until else "")
    try:
        with transaction.atomic():
            trade_approve(trade_id=req.trade_id, actor=actor, note=note)
    except DomainError as exc:
        log.warning("approval %s: trade %s could not be approved: %s", req.id, req.trade_id, exc.code)
        _close(req, ApprovalStatus.CANCELLED, f"trade_not_pending:{exc.code}", now)
        return False
    _close(req, ApprovalStatus.APPROVED, "approved" if req.required_approvals else "public_notice_ended", now)
    audit_record(actor=actor, action="approval.release", object_type="approval", object_id=req.id,
                 after={"trade": req.trade_id, "status": "approved"}, region_codes=req.region_codes)
    return True


@transaction.atomic
def approval_reject(*, membership: Membership, request_id: int, reason: str, actor: Actor | None = None,
                    now: datetime | None = None) -> ApprovalRequest:
    now = now or timezone.now()
    actor = actor or _actor(membership)
    req = _locked(request_id)
    _check_decider(req, membership)
    _decide(req, membership, Decision.REJECT, reason, actor)
    _reject_trade(req, actor, f"approval_rejected: {reason}"[:200], ApprovalStatus.REJECTED, now)
    return req


@transaction.atomic
def approval_object(*, membership: Membership, request_id: int, reason: str, actor: Actor | None = None,
                    now: datetime | None = None) -> ApprovalRequest:
    now = now or timezone.now()
    actor = actor or _actor(membership)
    req = _locked(request_id)
    scope = _check_decider(req, membership)
    if not scope.is_regulator:
        raise DomainError(ONLY_REGULATOR_OBJECTS)
    if req.notice_until is None or req.notice_until <= now:
        raise DomainError(NOT_IN_NOTICE)
    _decide(req, membership, Decision.OBJECT, reason, actor)
    _reject_trade(req, actor, f"public_notice_objection: {reason}"[:200], ApprovalStatus.REJECTED, now)
    return req


# --- time --------------------------------------------------------------------------------------------

def approvals_tick(*, now: datetime | None = None) -> dict:
    """Open missing requests, escalate at half-time, expire past the deadline, release after notice."""
    now = now or timezone.now()
    out = {"opened": approvals_sync(now=now), "escalated": 0, "expired": 0, "released": 0, "cancelled": 0}
    actor = Actor.system()
    pending = ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING)
    for pk in pending.filter(escalated_at__isnull=True, escalate_at__lte=now,
                             approvals_completed_at__isnull=True).values_list("id", flat=True):
        with transaction.atomic():
            req = _locked(pk)
            if req.status != ApprovalStatus.PENDING or req.escalated_at or req.approvals_completed_at:
                continue
            req.escalated_at = now
            req.save(update_fields=["escalated_at"])
            given = req.decisions.filter(decision=Decision.APPROVE).count()
            evidence = {"request": req.id, "trade": req.trade_id, "pending_since": req.pending_since.isoformat(),
                        "deadline": req.deadline.isoformat(), "approvals": given,
                        "required": req.required_approvals, "jurisdiction": req.jurisdiction}
            audit_record(actor=actor, action="approval.escalate", object_type="approval", object_id=req.id,
                         after=evidence, region_codes=req.region_codes)
            Alert.objects.bulk_create([Alert(
                kind="approval_overdue", severity="medium", fingerprint=f"approval_overdue:{req.id}",
                summary=f"approval of trade {req.trade_id} is past half its deadline ({given}/"
                        f"{req.required_approvals} approvals)",
                organization_ids=[req.trade.buyer_id, req.trade.seller_id], trade_ids=[req.trade_id],
                asset_id=req.trade.asset_id, evidence=evidence, region_codes=req.region_codes)],
                ignore_conflicts=True)
            out["escalated"] += 1
    for pk in pending.filter(deadline__lte=now, approvals_completed_at__isnull=True).values_list("id", flat=True):
        with transaction.atomic():
            req = _locked(pk)
            if req.status != ApprovalStatus.PENDING or req.approvals_completed_at:
                continue
            audit_record(actor=actor, action="approval.expire", object_type="approval", object_id=req.id,
                         after={"trade": req.trade_id, "deadline": req.deadline.isoformat()},
                         region_codes=req.region_codes)
            _reject_trade(req, actor, "approval_expired", ApprovalStatus.EXPIRED, now)
            out["expired"] += 1
    from django.db.models import Q

    due = pending.filter(Q(approvals_completed_at__isnull=False) | Q(required_approvals=0)).filter(
        Q(notice_until__isnull=True) | Q(notice_until__lte=now))
    for pk in due.values_list("id", flat=True):
        with transaction.atomic():
            req = _locked(pk)
            if req.status == ApprovalStatus.PENDING and _release_if_due(req, now, actor):
                out["released"] += 1
    # requests whose trade ended some other way (failed at a re-check, poison, …)
    for pk in pending.exclude(trade__status=TradeStatus.PENDING_APPROVAL).values_list("id", flat=True):
        with transaction.atomic():
            req = _locked(pk)
            if req.status == ApprovalStatus.PENDING and req.trade.status != TradeStatus.PENDING_APPROVAL:
                _close(req, ApprovalStatus.CANCELLED, f"trade_{req.trade.status}", now)
                out["cancelled"] += 1
    return out
