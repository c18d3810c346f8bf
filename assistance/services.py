"""Use cases of paired assistance and support commitments: each one `transaction.atomic`, keyword-only,
with its audit event in the same transaction.

Pairs and agreements (four eyes). `pair_propose` creates the pair and its version 1; `agreement_propose`
adds a version. A proposer is an admin of either party or an admin/approver of the provincial regulator.
`agreement_approve` / `agreement_reject`: an admin or approver of a regulator whose jurisdiction is the
province (and covers both parties), never the proposer, never a member (through any membership) of either
party. The annual minimum may not be below the plan's floor (`PLAN_MINIMUM`: 12 million yuan).

Payments (maker–checker inside the paying government, as `ledger.movements`). `payment_propose`: an admin
or trader of the payer proposes (amount, obligation year, purpose code); the posting is tried in a
savepoint and rolled back, so a payer short of cash is refused to the proposer already.
`payment_confirm`: another admin/approver of the payer — never the proposer, never a member of the payee —
confirms, which posts `ledger.earmark.earmarked_receipt` (payer's cash → payee's paired-assistance fund, kind
`assistance_payment`, or `assistance_support` for a commitment's cash) under the proposal's key: a second
confirmation replays the one transaction. `payment_reject` closes it without posting.

Commitments. `commitment_create`: the buyer of a settled farmland-quota trade records what it promised
the seller; `fulfilment_record`: in-kind delivery with evidence (industry transfer, infrastructure); cash
commitments are fulfilled by confirmed payments (`payment_propose(commitment=…)`), each confirmation
adding its fulfilment row.
"""
from __future__ import annotations

import json
from datetime import date

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import Membership, Organization
from core.errors import DomainError
from core.money import from_minor
from ledger.earmark import ASSISTANCE, EARMARK_PURPOSES, FUNDS, earmarked_receipt
from ledger.models import Asset
from ledger.posting import Posted, _first_difference
from ledger.services import client_key
from oversight.four_eyes import (
    CheckerSeat,
    FourEyes,
    NotAParty,
    NotProposer,
    ProvincialRegulator,
    is_provincial_regulator,
)
from trading.models import Trade, TradeStatus

from .errors import (
    AGREEMENT_CLOSED,
    APPROVER_IS_PARTY,
    CHECKER_IS_PAYEE,
    COMMITMENT_FULFILLED,
    EVIDENCE_REQUIRED,
    INVALID_PURPOSE,
    INVALID_YEAR,
    MAKER_CANNOT_CHECK,
    MINIMUM_BELOW_PLAN,
    NO_AGREEMENT,
    NOT_A_CHECKER,
    NOT_A_FARMLAND_TRADE,
    NOT_A_GOVERNMENT,
    NOT_A_PROPOSER,
    NOT_AN_AGREEMENT_APPROVER,
    NOT_THE_BUYER,
    NOT_THE_PAYER,
    NOT_THE_SUPPORTER,
    PAIR_EXISTS,
    PAYMENT_CLOSED,
    PROPOSER_CANNOT_APPROVE,
    SAME_PARTY,
    WRONG_FULFILMENT,
)
from .models import (
    AssistancePair,
    AssistancePayment,
    CommitmentFulfilment,
    CommitmentKind,
    CommitmentStatus,
    DecisionStatus,
    FulfilmentKind,
    PairAgreement,
    PaymentKind,
    PaymentStatus,
    SupportCommitment,
)

# 《规划》: 经济较发达县（市、区）每年对口帮扶重点县资金不少于 1200 万元 (docs/ASSISTANCE.md)
PLAN_MINIMUM = 12_000_000_00  # fen
PARTY_KINDS = ("county_government", "city_government")
PAYMENT_PURPOSES = FUNDS[ASSISTANCE].purposes  # the paired-assistance fund's purposes
LEDGER_KIND = {PaymentKind.PAIR: "assistance_payment", PaymentKind.SUPPORT: "assistance_support"}
PROPOSER_ROLES = ("admin", "trader")
CHECKER_ROLES = ("admin", "approver")
FARMLAND = "farmland"


def actor_of(membership: Membership, request_id: str = "") -> Actor:
    return Actor(user_id=membership.user_id, organization_id=membership.organization_id, role=membership.role,
                 organization_kind=membership.organization.kind, **({"request_id": request_id} if request_id else {}))


def _regions(*orgs: Organization) -> list[str]:
    return sorted({o.region_id for o in orgs})


# --- pairs and agreements ----------------------------------------------------------------------------------

def _check_terms(*, annual_minimum: int, effective_year: int) -> None:
    if annual_minimum < PLAN_MINIMUM:
        raise DomainError(MINIMUM_BELOW_PLAN, fields={"annual_minimum": f"at least {from_minor(PLAN_MINIMUM, 2)}"},
                          floor=from_minor(PLAN_MINIMUM, 2))
    if not 2000 <= effective_year <= 2100:
        raise DomainError("validation_error", fields={"effective_year": gettext("a year between 2000 and 2100")})


def _check_proposer(membership: Membership, pair: AssistancePair) -> None:
    party = membership.organization_id in (pair.payer_id, pair.payee_id) and membership.role == "admin"
    # a provincial regulator proposes for pairs in its own province only (another province's regulator,
    # e.g. Guangdong's, has no say over Fujian's pairs): the same cover as the approver's
    regulator = is_provincial_regulator(membership) and (
        membership.organization.jurisdiction.covers(pair.payer.region_id)
        and membership.organization.jurisdiction.covers(pair.payee.region_id))
    if not (party or regulator):
        raise DomainError(NOT_A_PROPOSER)


def _new_version(*, membership: Membership, pair: AssistancePair, annual_minimum: int, effective_year: int,
                 description: str, request_id: str) -> PairAgreement:
    number = (pair.agreements.aggregate(m=Max("version"))["m"] or 0) + 1
    agreement = PairAgreement.objects.create(
        pair=pair, version=number, annual_minimum=annual_minimum, effective_year=effective_year,
        description=description[:300], proposed_by_id=membership.user_id,
        proposer_organization_id=membership.organization_id)
    audit_record(actor=actor_of(membership, request_id), action="assistance.agreement_propose",
                 object_type="assistance_agreement", object_id=agreement.pk,
                 after={"pair": pair.pk, "version": number, "annual_minimum": annual_minimum,
                        "effective_year": effective_year, "payer": pair.payer_id, "payee": pair.payee_id},
                 region_codes=_regions(pair.payer, pair.payee))
    return agreement


@transaction.atomic
def pair_propose(*, membership: Membership, payer: Organization, payee: Organization, annual_minimum: int,
                 effective_year: int, description: str = "", request_id: str = "") -> PairAgreement:
    """A new pair with its first agreement version, pending the provincial regulator's approval."""
    if payer.kind not in PARTY_KINDS or payee.kind not in PARTY_KINDS:
        raise DomainError(NOT_A_GOVERNMENT)
    if payer.pk == payee.pk:
        raise DomainError(SAME_PARTY, fields={"payee": "must differ from payer"})
    _check_terms(annual_minimum=annual_minimum, effective_year=effective_year)
    probe = AssistancePair(payer=payer, payee=payee)
    _check_proposer(membership, probe)
    # one pair per (payer, payee): the unique constraint decides a race; the lock makes it a clean 409
    list(Organization.objects.select_for_update().filter(pk__in=[payer.pk, payee.pk]).order_by("pk"))
    if AssistancePair.objects.filter(payer=payer, payee=payee).exists():
        raise DomainError(PAIR_EXISTS)
    pair = AssistancePair.objects.create(payer=payer, payee=payee)
    audit_record(actor=actor_of(membership, request_id), action="assistance.pair_create",
                 object_type="assistance_pair", object_id=pair.pk, after={"payer": payer.pk, "payee": payee.pk},
                 region_codes=_regions(payer, payee))
    return _new_version(membership=membership, pair=pair, annual_minimum=annual_minimum,
                        effective_year=effective_year, description=description, request_id=request_id)


@transaction.atomic
def agreement_propose(*, membership: Membership, pair: AssistancePair, annual_minimum: int, effective_year: int,
                      description: str = "", request_id: str = "") -> PairAgreement:
    """A new version of the pair's terms (the earlier versions stay as they were)."""
    pair = AssistancePair.objects.select_for_update().select_related("payer", "payee").get(pk=pair.pk)
    _check_proposer(membership, pair)
    _check_terms(annual_minimum=annual_minimum, effective_year=effective_year)
    return _new_version(membership=membership, pair=pair, annual_minimum=annual_minimum,
                        effective_year=effective_year, description=description, request_id=request_id)


def _locked_agreement(agreement_id: int) -> PairAgreement:
    agreement = (PairAgreement.objects.select_for_update(of=("self",)).select_related("pair__payer", "pair__payee")
                 .filter(pk=agreement_id).first())
    if agreement is None:
        raise DomainError("not_found")
    return agreement


# the four-eyes rules (oversight.four_eyes), with assistance's own codes
AGREEMENT_APPROVER = FourEyes(((ProvincialRegulator, NOT_AN_AGREEMENT_APPROVER),
                               (NotProposer, PROPOSER_CANNOT_APPROVE), (NotAParty, APPROVER_IS_PARTY)))
PAYMENT_CHECKER = FourEyes(((CheckerSeat, NOT_A_CHECKER), (NotProposer, MAKER_CANNOT_CHECK),
                            (NotAParty, CHECKER_IS_PAYEE)))


def _check_approver(agreement: PairAgreement, membership: Membership) -> None:
    pair = agreement.pair
    AGREEMENT_APPROVER.enforce(membership=membership, regions=(pair.payer.region_id, pair.payee.region_id),
                               user_id=membership.user_id, proposers=(agreement.proposed_by_id,),
                               parties=(pair.payer_id, pair.payee_id))


def _decide(agreement: PairAgreement, membership: Membership, status: str, reason: str, request_id: str):
    agreement.status = status
    agreement.decided_by_id = membership.user_id
    agreement.decided_by_organization_id = membership.organization_id
    agreement.decided_at = timezone.now()
    agreement.reason = reason[:200]
    agreement.save(update_fields=["status", "decided_by", "decided_by_organization", "decided_at", "reason"])
    audit_record(actor=actor_of(membership, request_id), action=f"assistance.agreement_{status[:-1]}",
                 object_type="assistance_agreement", object_id=agreement.pk,
                 after={"pair": agreement.pair_id, "version": agreement.version, "status": status, "reason": reason,
                        "proposed_by": agreement.proposed_by_id},
                 region_codes=_regions(agreement.pair.payer, agreement.pair.payee))
    return agreement


@transaction.atomic
def agreement_approve(*, membership: Membership, agreement_id: int, request_id: str = "") -> PairAgreement:
    agreement = _locked_agreement(agreement_id)
    if agreement.status != DecisionStatus.PENDING:
        raise DomainError(AGREEMENT_CLOSED, fields={"status": agreement.status})
    _check_approver(agreement, membership)
    return _decide(agreement, membership, DecisionStatus.APPROVED, "", request_id)


@transaction.atomic
def agreement_reject(*, membership: Membership, agreement_id: int, reason: str, request_id: str = "") -> PairAgreement:
    agreement = _locked_agreement(agreement_id)
    if agreement.status != DecisionStatus.PENDING:
        raise DomainError(AGREEMENT_CLOSED, fields={"status": agreement.status})
    _check_approver(agreement, membership)
    return _decide(agreement, membership, DecisionStatus.REJECTED, reason, request_id)


def agreement_in_force(pair_id: int, year: int) -> PairAgreement | None:
    """The approved version with the highest number among those effective by `year`."""
    return (PairAgreement.objects.filter(pair_id=pair_id, status=DecisionStatus.APPROVED, effective_year__lte=year)
            .order_by("-version").first())


# --- payments (maker–checker inside the paying government) ----------------------------------------------

class _DryRun(Exception):
    pass


def _payment_request(*, pair: AssistancePair | None, commitment: SupportCommitment | None, year: int, amount: int,
                     purpose_code: str, description: str) -> dict:
    return json.loads(json.dumps({
        "pair": pair.pk if pair else None, "commitment": commitment.pk if commitment else None, "year": year,
        "amount": amount, "purpose_code": purpose_code, "description": description}, sort_keys=True))


def _post(payment: AssistancePayment, *, actor: Actor, key: str) -> Posted:
    return earmarked_receipt(actor=actor, kind=LEDGER_KIND[payment.kind], payer=payment.payer, payee=payment.payee,
                             amount=payment.amount, purpose_code=payment.purpose_code, idempotency_key=key,
                             request=payment.request,
                             reference=(("assistance_pair", payment.pair_id) if payment.pair_id
                                        else ("support_commitment", payment.commitment_id)),
                             memo={"year": payment.year, "pair": payment.pair_id,
                                   "commitment": payment.commitment_id, "description": payment.description})


@transaction.atomic
def payment_propose(*, membership: Membership, idempotency_key: str, amount: int, purpose_code: str,
                    description: str, pair: AssistancePair | None = None,
                    commitment: SupportCommitment | None = None, year: int | None = None,
                    today: date | None = None, request_id: str = "") -> tuple[AssistancePayment, bool]:
    """Propose a payment of the acting government (the pair's payer, or the commitment's supporter).
    Returns (payment, replayed)."""
    today = today or timezone.localdate()
    if (pair is None) == (commitment is None):
        raise DomainError("validation_error", fields={"pair": "name a pair or a commitment, not both"})
    year = today.year if year is None else year
    kind = PaymentKind.PAIR if pair is not None else PaymentKind.SUPPORT
    request = _payment_request(pair=pair, commitment=commitment, year=year, amount=amount,
                               purpose_code=purpose_code, description=description)
    key = client_key(actor_of(membership), f"assistance_{kind}", idempotency_key)
    existing = AssistancePayment.objects.filter(idempotency_key=key).first()
    if existing is not None:
        differing = _first_difference(existing.request, request)
        if differing:
            raise DomainError("idempotency_conflict", field=differing,
                              fields={differing: "differs from the request first sent with this key"})
        return existing, True
    if amount <= 0:
        raise DomainError("validation_error", fields={"amount": "must be positive"})
    if purpose_code not in PAYMENT_PURPOSES or purpose_code not in EARMARK_PURPOSES:
        raise DomainError(INVALID_PURPOSE, fields={"purpose_code": f"one of {', '.join(PAYMENT_PURPOSES)}"})
    if not (description or "").strip():
        raise DomainError("description_required", fields={"description": "required"})
    if pair is not None:
        payer, payee = pair.payer, pair.payee
        if year not in (today.year, today.year - 1):
            raise DomainError(INVALID_YEAR, fields={"year": f"{today.year - 1} or {today.year}"})
        if agreement_in_force(pair.pk, year) is None:
            raise DomainError(NO_AGREEMENT, fields={"year": str(year)})
    else:
        payer, payee = commitment.supporter, commitment.beneficiary
        if commitment.kind != CommitmentKind.CASH:
            raise DomainError(WRONG_FULFILMENT)
        if commitment.status == CommitmentStatus.FULFILLED:
            raise DomainError(COMMITMENT_FULFILLED)
        year = today.year
    if membership.organization_id != payer.pk or membership.role not in PROPOSER_ROLES:
        raise DomainError(NOT_THE_PAYER)
    payment = AssistancePayment(
        kind=kind, pair=pair, commitment=commitment, year=year, payer=payer, payee=payee, amount=amount,
        purpose_code=purpose_code, description=description.strip()[:300], idempotency_key=key, request=request,
        proposed_by_id=membership.user_id, proposer_role=membership.role)
    # every check the posting makes (the payer's cash above all), now, for the proposer; nothing of it is kept
    try:
        with transaction.atomic():
            _post(payment, actor=actor_of(membership), key=f"dry-run:{key}")
            raise _DryRun
    except _DryRun:
        pass
    payment.save()
    audit_record(actor=actor_of(membership, request_id), action="assistance.payment_propose",
                 object_type="assistance_payment", object_id=payment.pk, after={"kind": kind, **request},
                 region_codes=_regions(payer, payee))
    return payment, False


def _locked_payment(payment_id: int) -> AssistancePayment:
    payment = (AssistancePayment.objects.select_for_update(of=("self",)).select_related("payer", "payee")
               .filter(pk=payment_id).first())
    if payment is None:
        raise DomainError("not_found")
    return payment


def _check_checker(payment: AssistancePayment, membership: Membership) -> None:
    PAYMENT_CHECKER.enforce(membership=membership, organization=payment.payer_id, roles=CHECKER_ROLES,
                            user_id=membership.user_id, proposers=(payment.proposed_by_id,),
                            parties=(payment.payee_id,))


@transaction.atomic
def payment_confirm(*, membership: Membership, payment_id: int, request_id: str = "") -> tuple[AssistancePayment, bool]:
    """The second person confirms: the ledger transaction is posted. Returns (payment, replayed)."""
    payment = _locked_payment(payment_id)
    if payment.status == PaymentStatus.CONFIRMED:
        if membership.user_id not in (payment.proposed_by_id, payment.decided_by_id):
            _check_checker(payment, membership)
        return payment, True
    if payment.status != PaymentStatus.PENDING:
        raise DomainError(PAYMENT_CLOSED, fields={"status": payment.status})
    _check_checker(payment, membership)
    checker = actor_of(membership, request_id)
    posted = _post(payment, actor=checker, key=payment.idempotency_key)
    payment.status = PaymentStatus.CONFIRMED
    payment.decided_by_id = membership.user_id
    payment.decided_at = timezone.now()
    payment.transaction_id = posted.transaction_id
    payment.save(update_fields=["status", "decided_by", "decided_at", "transaction"])
    audit_record(actor=checker, action="assistance.payment_confirm", object_type="assistance_payment",
                 object_id=payment.pk, after={"kind": payment.kind, "amount": payment.amount, "year": payment.year,
                                              "proposed_by": payment.proposed_by_id,
                                              "ledger_transaction": posted.transaction_id},
                 region_codes=_regions(payment.payer, payment.payee))
    if payment.kind == PaymentKind.SUPPORT:
        _fulfil(commitment_id=payment.commitment_id, kind=FulfilmentKind.CASH, amount=payment.amount,
                description=payment.description, evidence={"ledger_transaction": posted.transaction_id},
                payment=payment, membership=membership, actor=checker)
    return payment, False


@transaction.atomic
def payment_reject(*, membership: Membership, payment_id: int, reason: str, request_id: str = "") -> AssistancePayment:
    payment = _locked_payment(payment_id)
    if payment.status != PaymentStatus.PENDING:
        raise DomainError(PAYMENT_CLOSED, fields={"status": payment.status})
    _check_checker(payment, membership)
    payment.status = PaymentStatus.REJECTED
    payment.decided_by_id = membership.user_id
    payment.decided_at = timezone.now()
    payment.reason = reason[:200]
    payment.save(update_fields=["status", "decided_by", "decided_at", "reason"])
    audit_record(actor=actor_of(membership, request_id), action="assistance.payment_reject",
                 object_type="assistance_payment", object_id=payment.pk,
                 after={"kind": payment.kind, "reason": payment.reason},
                 region_codes=_regions(payment.payer, payment.payee))
    return payment


# --- support commitments ------------------------------------------------------------------------------------

def _farmland_right_type(trade: Trade) -> str | None:
    return Asset.objects.filter(pk=trade.asset_id).values_list("right_type_id", flat=True).first()


@transaction.atomic
def commitment_create(*, membership: Membership, trade: Trade, kind: str, amount: int, due_date: date,
                      description: str, request_id: str = "") -> SupportCommitment:
    """The buyer of a settled farmland-quota trade records support promised to the selling region."""
    if trade.status != TradeStatus.SETTLED or _farmland_right_type(trade) != FARMLAND:
        raise DomainError(NOT_A_FARMLAND_TRADE, fields={"trade": str(trade.pk)})
    if membership.organization_id != trade.buyer_id or membership.role not in PROPOSER_ROLES:
        raise DomainError(NOT_THE_BUYER)
    if kind not in CommitmentKind.values:
        raise DomainError("validation_error", fields={"kind": f"one of {', '.join(CommitmentKind.values)}"})
    if amount <= 0:
        raise DomainError("validation_error", fields={"amount": "must be positive"})
    if not (description or "").strip():
        raise DomainError("description_required", fields={"description": "required"})
    commitment = SupportCommitment.objects.create(
        trade=trade, supporter_id=trade.buyer_id, beneficiary_id=trade.seller_id, kind=kind, amount=amount,
        due_date=due_date, description=description.strip()[:300], created_by_id=membership.user_id)
    audit_record(actor=actor_of(membership, request_id), action="assistance.commitment_create",
                 object_type="support_commitment", object_id=commitment.pk,
                 after={"trade": trade.pk, "kind": kind, "amount": amount, "due_date": due_date.isoformat(),
                        "supporter": trade.buyer_id, "beneficiary": trade.seller_id},
                 region_codes=_regions(trade.buyer, trade.seller))
    return commitment


def _fulfil(*, commitment_id: int, kind: str, amount: int, description: str, evidence: dict,
            payment: AssistancePayment | None, membership: Membership, actor: Actor) -> CommitmentFulfilment:
    commitment = (SupportCommitment.objects.select_for_update(of=("self",))
                  .select_related("supporter", "beneficiary").get(pk=commitment_id))
    fulfilment = CommitmentFulfilment.objects.create(commitment=commitment, kind=kind, amount=amount,
                                                     description=description[:300], evidence=evidence,
                                                     payment=payment, recorded_by_id=membership.user_id)
    commitment.fulfilled_amount += amount
    if commitment.fulfilled_amount >= commitment.amount:
        commitment.status = CommitmentStatus.FULFILLED
        commitment.fulfilled_at = timezone.now()
    commitment.save(update_fields=["fulfilled_amount", "status", "fulfilled_at"])
    audit_record(actor=actor, action="assistance.commitment_fulfil", object_type="support_commitment",
                 object_id=commitment.pk,
                 after={"fulfilment": fulfilment.pk, "kind": kind, "amount": amount, "evidence": evidence,
                        "fulfilled_amount": commitment.fulfilled_amount, "status": commitment.status},
                 region_codes=_regions(commitment.supporter, commitment.beneficiary))
    return fulfilment


@transaction.atomic
def fulfilment_record(*, membership: Membership, commitment_id: int, amount: int, description: str,
                      evidence: dict, request_id: str = "") -> CommitmentFulfilment:
    """In-kind delivery of an industry-transfer or infrastructure commitment, with evidence (a document
    reference and a description at least)."""
    commitment = SupportCommitment.objects.select_for_update().filter(pk=commitment_id).first()
    if commitment is None:
        raise DomainError("not_found")
    if membership.organization_id != commitment.supporter_id or membership.role not in PROPOSER_ROLES:
        raise DomainError(NOT_THE_SUPPORTER)
    if commitment.kind == CommitmentKind.CASH:
        raise DomainError(WRONG_FULFILMENT)
    if commitment.status == CommitmentStatus.FULFILLED:
        raise DomainError(COMMITMENT_FULFILLED)
    if amount <= 0:
        raise DomainError("validation_error", fields={"amount": "must be positive"})
    document = str(evidence.get("document", "")).strip() if isinstance(evidence, dict) else ""
    if not document or not (description or "").strip():
        raise DomainError(EVIDENCE_REQUIRED, fields={"evidence": "document and description required"})
    return _fulfil(commitment_id=commitment.pk, kind=FulfilmentKind.IN_KIND, amount=amount,
                   description=description.strip(), evidence=evidence, payment=None, membership=membership,
                   actor=actor_of(membership, request_id))
