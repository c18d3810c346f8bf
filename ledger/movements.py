"""Maker–checker for value that enters, leaves or is created in the ledger: cash deposits and withdrawals,
operator-initiated transfers and issuance. One person proposes (`movement_propose`: a pending
`MovementRequest`, audited), another person with the checker role confirms (`movement_confirm`: the
ledger transaction is posted, audited) or rejects (`movement_reject`). Never the same user, whatever
memberships they hold (the database refuses it too: `movement_checker_is_not_maker`).

Who proposes: the exchange operator (admin, trader, approver) for all four; for issuance also the asset's
registered issuer (admin, trader). Who confirms: an admin or approver of the exchange operator, or, for
issuance, of the registered issuer — never the proposer, and never a member (through any membership) of an
organization whose accounts the request moves (conflict of interest).

Below `settings.FOUR_EYES_SINGLE_PERSON_BELOW[kind]` (minor units; default: no such amount) one person
suffices and the proposal posts at once, as a one-step call always did.

A proposal is checked in full at once (the posting is tried in a savepoint and rolled back), so a
withdrawal beyond the balance is refused to the proposer, not only to the checker; the confirmation
checks again. Idempotency: the client's key is namespaced by the proposer's organization exactly as a
posting's; proposing again with the same key and payload returns the same request, with another payload
it is `idempotency_conflict`; the confirmed posting carries that same key, so confirming twice returns the
one transaction (a replay).

The posting primitives (`ledger.services.cash_deposit`, …) take no second person: they are what a
confirmation, a system job or a test fixture posts with. People reach them only through this module.
"""
from __future__ import annotations

import json

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import Membership, Organization
from core.errors import ApiError

from . import services
from .errors import CHECKER_CONFLICT, MAKER_CANNOT_CHECK, MOVEMENT_CLOSED, NOT_A_CHECKER, NOT_REGISTERED_ISSUER
from .models import Asset, MovementKind, MovementRequest, MovementStatus
from .posting import Posted, _first_difference

OPERATOR_KIND = "exchange_operator"
PROPOSER_ROLES = {"operator": ("admin", "trader", "approver"), "issuer": ("admin", "trader")}
CHECKER_ROLES = ("admin", "approver")


class _DryRun(Exception):
    def __init__(self, posted: Posted):
        self.posted = posted


def single_person_below(kind: str) -> int | None:
    return (getattr(settings, "FOUR_EYES_SINGLE_PERSON_BELOW", None) or {}).get(kind)


def _orgs(*ids) -> list[Organization]:
    found = {o.pk: o for o in Organization.objects.select_related("region").filter(pk__in=ids)}
    return [found[i] for i in ids]


def _execute(kind: str, request: dict, *, actor: Actor, key: str, key_owner: Actor | None) -> Posted:
    """Post the movement `request` (API field names; amount in minor units)."""
    asset = Asset.objects.get(code=request["asset"])
    amount = request["amount"]
    if kind in (MovementKind.DEPOSIT, MovementKind.WITHDRAW):
        (org,) = _orgs(request["organization"])
        fn = services.cash_deposit if kind == MovementKind.DEPOSIT else services.cash_withdraw
        return fn(actor=actor, organization=org, amount=amount, bank_reference=request["bank_reference"],
                  idempotency_key=key, key_owner=key_owner)
    if kind == MovementKind.TRANSFER:
        sender, recipient = _orgs(request["sender"], request["recipient"])
        return services.rights_transfer(actor=actor, asset=asset, sender=sender, recipient=recipient,
                                        amount=amount, reason=request.get("reason", ""), idempotency_key=key,
                                        key_owner=key_owner)
    issuer, recipient = _orgs(request["issuer"], request["recipient"])
    return services.rights_issue(actor=actor, issuer=issuer, asset=asset, recipient=recipient, amount=amount,
                                 evidence=request.get("evidence") or {}, idempotency_key=key, key_owner=key_owner)


def _subjects(kind: str, request: dict) -> list[int]:
    if kind in (MovementKind.DEPOSIT, MovementKind.WITHDRAW):
        return [request["organization"]]
    if kind == MovementKind.TRANSFER:
        return [request["sender"], request["recipient"]]
    return [request["recipient"]]


def _check_proposer(kind: str, membership: Membership, asset: Asset, request: dict) -> None:
    org = membership.organization
    if org.kind == OPERATOR_KIND:
        if membership.role not in PROPOSER_ROLES["operator"]:
            raise ApiError("permission_denied")
        return
    if kind != MovementKind.ISSUE or membership.role not in PROPOSER_ROLES["issuer"]:
        raise ApiError("permission_denied")
    if asset.kind == "right":  # other assets: the posting's own refusal (not_a_right)
        services.issuer_may_issue(org, asset.origin_region_id)
    if asset.kind == "right" and asset.issuer_id != org.pk:
        raise ApiError(NOT_REGISTERED_ISSUER, fields={"asset": asset.code})


def _actor(membership: Membership, request_id: str = "") -> Actor:
    return Actor(user_id=membership.user_id, organization_id=membership.organization_id, role=membership.role,
                 organization_kind=membership.organization.kind,
                 **({"request_id": request_id} if request_id else {}))


def _json(request: dict) -> dict:
    return json.loads(json.dumps(request, sort_keys=True, default=str))


@transaction.atomic
def movement_propose(*, membership: Membership, kind: str, request: dict, idempotency_key: str,
                     request_id: str = "") -> tuple[MovementRequest | None, Posted | None, bool]:
    """Propose a movement. Returns (request, posted, replayed): a pending (or already decided, on a replay)
    request, or — below the single-person amount — no request and the posted transaction."""
    actor = _actor(membership, request_id)
    request = _json(request)
    asset = Asset.objects.get(code=request["asset"])
    _check_proposer(kind, membership, asset, request)
    key = services.client_key(actor, kind, idempotency_key)
    existing = MovementRequest.objects.filter(idempotency_key=key).first()
    if existing is not None:
        differing = _first_difference(existing.request, request)
        if differing:
            raise ApiError("idempotency_conflict", field=differing,
                           fields={differing: "differs from the request first sent with this key"})
        return existing, None, True
    limit = single_person_below(kind)
    if limit is not None and request["amount"] < limit:
        posted = _execute(kind, request, actor=actor, key=idempotency_key, key_owner=None)
        return None, posted, posted.replayed
    # every check the posting makes, now, for the proposer; then nothing of it is kept
    try:
        with transaction.atomic():
            raise _DryRun(_execute(kind, request, actor=actor, key=f"dry-run:{idempotency_key}", key_owner=None))
    except _DryRun:
        pass
    movement = MovementRequest.objects.create(
        kind=kind, idempotency_key=key, request=request, asset=asset, amount=request["amount"],
        issuer_id=request.get("issuer"), subject_organization_ids=_subjects(kind, request),
        proposed_by_id=membership.user_id, proposer_organization_id=membership.organization_id,
        proposer_role=membership.role)
    audit_record(actor=actor, action="movement.propose", object_type="movement_request", object_id=movement.pk,
                 after={"kind": kind, **request}, region_codes=_regions(movement))
    return movement, None, False


def _regions(movement: MovementRequest) -> list[str]:
    ids = [*movement.subject_organization_ids, movement.proposer_organization_id]
    codes = set(Organization.objects.filter(pk__in=ids).values_list("region_id", flat=True))
    if movement.asset.origin_region_id:
        codes.add(movement.asset.origin_region_id)
    return sorted(codes)


def _locked(movement_id: int) -> MovementRequest:
    movement = (MovementRequest.objects.select_for_update(of=("self",)).select_related("asset")
                .filter(pk=movement_id).first())
    if movement is None:
        raise ApiError("not_found")
    return movement


def _check_checker(movement: MovementRequest, membership: Membership) -> None:
    org = membership.organization
    may = org.kind == OPERATOR_KIND or (movement.kind == MovementKind.ISSUE and org.pk == movement.issuer_id)
    if not may or membership.role not in CHECKER_ROLES:
        raise ApiError(NOT_A_CHECKER)
    if membership.user_id == movement.proposed_by_id:
        raise ApiError(MAKER_CANNOT_CHECK)
    if Membership.objects.filter(user_id=membership.user_id,
                                 organization_id__in=movement.subject_organization_ids).exists():
        raise ApiError(CHECKER_CONFLICT)


@transaction.atomic
def movement_confirm(*, membership: Membership, movement_id: int, request_id: str = "") -> Posted:
    """The second person confirms: the movement is posted (its key is the proposal's), both audited."""
    movement = _locked(movement_id)
    if movement.status == MovementStatus.CONFIRMED:
        _check_checker_or_proposer(movement, membership)
        return Posted(transaction_id=movement.transaction_id, replayed=True)
    if movement.status != MovementStatus.PENDING:
        raise ApiError(MOVEMENT_CLOSED, fields={"status": movement.status})
    _check_checker(movement, membership)
    checker = _actor(membership, request_id)
    proposer = Actor(user_id=movement.proposed_by_id, organization_id=movement.proposer_organization_id,
                     role=movement.proposer_role)
    client_key = movement.idempotency_key.split(":", 2)[2]
    posted = _execute(movement.kind, movement.request, actor=checker, key=client_key, key_owner=proposer)
    movement.status = MovementStatus.CONFIRMED
    movement.decided_by_id = membership.user_id
    movement.decided_by_organization_id = membership.organization_id
    movement.decided_at = timezone.now()
    movement.transaction_id = posted.transaction_id
    movement.save(update_fields=["status", "decided_by", "decided_by_organization", "decided_at", "transaction"])
    audit_record(actor=checker, action="movement.confirm", object_type="movement_request", object_id=movement.pk,
                 after={"kind": movement.kind, "proposed_by": movement.proposed_by_id,
                        "ledger_transaction": posted.transaction_id}, region_codes=_regions(movement))
    return Posted(transaction_id=posted.transaction_id, replayed=False)


def _check_checker_or_proposer(movement: MovementRequest, membership: Membership) -> None:
    """Who may see a confirmed request's transaction again (a replayed confirmation)."""
    if membership.user_id in (movement.proposed_by_id, movement.decided_by_id):
        return
    _check_checker(movement, membership)


@transaction.atomic
def movement_reject(*, membership: Membership, movement_id: int, reason: str, request_id: str = "") -> MovementRequest:
    movement = _locked(movement_id)
    if movement.status != MovementStatus.PENDING:
        raise ApiError(MOVEMENT_CLOSED, fields={"status": movement.status})
    _check_checker(movement, membership)
    movement.status = MovementStatus.REJECTED
    movement.decided_by_id = membership.user_id
    movement.decided_by_organization_id = membership.organization_id
    movement.decided_at = timezone.now()
    movement.reason = reason[:200]
    movement.save(update_fields=["status", "decided_by", "decided_by_organization", "decided_at", "reason"])
    audit_record(actor=_actor(membership, request_id), action="movement.reject", object_type="movement_request",
                 object_id=movement.pk, after={"kind": movement.kind, "reason": movement.reason},
                 region_codes=_regions(movement))
    return movement


def movement_list(*, membership: Membership):
    """The operator sees every request; an issuer the issuance requests of its assets; anyone their own."""
    qs = MovementRequest.objects.select_related("asset").order_by("-id")
    if membership.organization.kind == OPERATOR_KIND:
        return qs
    return qs.filter(Q(proposer_organization_id=membership.organization_id) | Q(issuer_id=membership.organization_id))
