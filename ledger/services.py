"""Registry use cases. Each is exactly one ledger transaction (through `ledger.posting.post`), idempotent
by a client-supplied key, and writes its audit event in the same database transaction.

Idempotency keys are namespaced by the acting organization (`<org>:<kind>:<client key>`), so two
participants cannot collide; the same key with the same payload returns the original transaction, with
another payload it is a 409 naming the differing field.
"""
from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import GOVERNMENT_KINDS, Organization
from core.errors import DomainError

from .checks import AssetValid, IssuanceEvidence, PositiveAmount
from .errors import (
    ASSET_EXISTS,
    ASSET_NOT_EXPIRED,
    BASIN_REQUIRED,
    ISSUER_OUT_OF_JURISDICTION,
    NOT_A_CASH_ASSET,
    NOT_A_RIGHT,
    NOT_AN_ISSUER,
    SAME_ORGANIZATION,
    UNKNOWN_RIGHT_TYPE,
)
from .models import Account, AccountKind, Asset, LedgerTransaction, RightType
from .posting import AVAILABLE, HELD, Leg, Posted, accounts_ensure, post, replay_of


def today() -> date:
    return timezone.localdate()


def client_key(actor: Actor, kind: str, key: str) -> str:
    return f"{actor.organization_id or 'system'}:{kind}:{key}"


def account_id(organization_id: int | None, asset_id: int, kind: str = AccountKind.PARTICIPANT) -> int:
    return accounts_ensure([(organization_id, asset_id, kind)])[(organization_id, asset_id, kind)]


_cny: dict[str, Asset] = {}


def cny() -> Asset:
    """The CNY asset: the one way to get it. Cached for the life of the process (README, "Per-process
    caches"); `forget_cached` clears it (tests that flush the database)."""
    if "CNY" not in _cny:
        _cny["CNY"] = Asset.objects.get(code="CNY")
    return _cny["CNY"]


def forget_cached() -> None:
    """Forget the per-process CNY asset (tests that flush the database re-create it)."""
    _cny.clear()


def _positive(amount: int) -> None:
    PositiveAmount.enforce(amount=amount)  # A-AMOUNT-001


def _tradable(asset: Asset) -> None:
    AssetValid.enforce(asset=asset, on=today())  # A-VALID-001


def _audit(actor: Actor, action: str, posted: Posted, after: dict, regions: list[str]) -> None:
    if not posted.replayed:
        audit_record(actor=actor, action=action, object_type="ledger_transaction", object_id=posted.transaction_id,
                     after=after, region_codes=[r for r in regions if r])


# --- instruments -------------------------------------------------------------------------------------

@transaction.atomic
def asset_create(*, actor: Actor, code: str, right_type_id: str, subtype: str, unit: str, scale: int,
                 vintage: int | None, origin_region_id: str, issuer: Organization, valid_from=None, valid_to=None,
                 basin_id: str | None = None, name_zh: str = "", name_en: str = "") -> Asset:
    """Add a rights instrument to the catalog. The issuer must be a government body whose division
    covers the origin region; basin-bound right types (water) must name a basin."""
    right_type = RightType.objects.filter(pk=right_type_id).first()
    if right_type is None:
        raise DomainError(UNKNOWN_RIGHT_TYPE, fields={"right_type": right_type_id})
    _issuer_may_issue(issuer, origin_region_id)
    if right_type.basin_bound and not basin_id:
        raise DomainError(BASIN_REQUIRED, fields={"basin": f"required for {right_type_id} rights"})
    if Asset.objects.filter(code=code).exists():
        raise DomainError(ASSET_EXISTS, fields={"code": code})
    asset = Asset(code=code, kind="right", right_type_id=right_type_id, subtype=subtype,
                  unit=unit or right_type.default_unit, scale=scale, vintage=vintage,
                  origin_region_id=origin_region_id, issuer=issuer, valid_from=valid_from, valid_to=valid_to,
                  basin_id=basin_id, name_zh=name_zh, name_en=name_en)
    asset.full_clean()
    asset.save()
    audit_record(actor=actor, action="asset.create", object_type="asset", object_id=asset.pk,
                 after={"code": code, "right_type": right_type_id, "subtype": subtype, "scale": scale,
                        "vintage": vintage, "origin_region": origin_region_id, "issuer": issuer.pk},
                 region_codes=[origin_region_id])
    return asset


def _issuer_may_issue(issuer: Organization, origin_region_id: str | None) -> None:
    if issuer.kind not in GOVERNMENT_KINDS:
        raise DomainError(NOT_AN_ISSUER)
    if not issuer.region.covers(origin_region_id):
        raise DomainError(ISSUER_OUT_OF_JURISDICTION, fields={"origin_region": origin_region_id})


# --- issuance ----------------------------------------------------------------------------------------

@transaction.atomic
def rights_issue(*, actor: Actor, issuer: Organization, asset: Asset, recipient: Organization, amount: int,
                 idempotency_key: str, evidence: dict | None = None) -> Posted:
    """Issue (allocate) rights to a recipient: issuance account → recipient's available."""
    _positive(amount)
    if asset.kind != "right":
        raise DomainError(NOT_A_RIGHT)
    _issuer_may_issue(issuer, asset.origin_region_id)
    _tradable(asset)
    evidence = evidence or {}
    IssuanceEvidence.enforce(asset=asset, evidence=evidence)  # A-EVIDENCE-001: the right type's evidence
    ids = accounts_ensure([(None, asset.id, AccountKind.ISSUANCE), (recipient.id, asset.id, AccountKind.PARTICIPANT)])
    request = {"asset": asset.code, "issuer": issuer.id, "recipient": recipient.id, "amount": amount,
               "evidence": evidence}
    posted = post(kind="issue", idempotency_key=client_key(actor, "issue", idempotency_key), request=request,
                  actor=actor, reference=("asset", asset.id), memo={"issuer": issuer.id, "evidence": evidence},
                  legs=[Leg(ids[(None, asset.id, "issuance")], AVAILABLE, -amount),
                        Leg(ids[(recipient.id, asset.id, "participant")], AVAILABLE, amount)])
    _audit(actor, "rights.issue", posted, request, [asset.origin_region_id, recipient.region_id])
    return posted


# --- cash --------------------------------------------------------------------------------------------

@transaction.atomic
def cash_deposit(*, actor: Actor, organization: Organization, amount: int, bank_reference: str,
                 idempotency_key: str) -> Posted:
    """The operator confirms a bank transfer in: external cash (issuance) → participant's available."""
    _positive(amount)
    cash = cny()
    ids = accounts_ensure([(None, cash.id, "issuance"), (organization.id, cash.id, "participant")])
    request = {"organization": organization.id, "amount": amount, "bank_reference": bank_reference}
    posted = post(kind="deposit", idempotency_key=client_key(actor, "deposit", idempotency_key), request=request,
                  actor=actor, reference=("bank", bank_reference), memo={"bank_reference": bank_reference},
                  legs=[Leg(ids[(None, cash.id, "issuance")], AVAILABLE, -amount),
                        Leg(ids[(organization.id, cash.id, "participant")], AVAILABLE, amount)])
    _audit(actor, "cash.deposit", posted, request, [organization.region_id])
    return posted


@transaction.atomic
def cash_withdraw(*, actor: Actor, organization: Organization, amount: int, bank_reference: str,
                  idempotency_key: str) -> Posted:
    """The operator pays out to the participant's bank: participant's available → external cash."""
    _positive(amount)
    cash = cny()
    ids = accounts_ensure([(None, cash.id, "issuance"), (organization.id, cash.id, "participant")])
    request = {"organization": organization.id, "amount": amount, "bank_reference": bank_reference}
    posted = post(kind="withdraw", idempotency_key=client_key(actor, "withdraw", idempotency_key), request=request,
                  actor=actor, reference=("bank", bank_reference), memo={"bank_reference": bank_reference},
                  legs=[Leg(ids[(organization.id, cash.id, "participant")], AVAILABLE, -amount),
                        Leg(ids[(None, cash.id, "issuance")], AVAILABLE, amount)])
    _audit(actor, "cash.withdraw", posted, request, [organization.region_id])
    return posted


# --- escrow (used by trading inside its own transactions) -------------------------------------------

def hold_place(*, actor: Actor, organization_id: int, asset: Asset, amount: int, reference: tuple[str, object],
               idempotency_key: str) -> Posted:
    """Move `amount` from available to held (escrow for an order, bid or listing)."""
    _positive(amount)
    if asset.kind == "right":
        _tradable(asset)
    acc = account_id(organization_id, asset.id)
    return post(kind="hold", idempotency_key=idempotency_key, actor=actor, reference=reference,
                request={"account": acc, "amount": amount},
                legs=[Leg(acc, AVAILABLE, -amount), Leg(acc, HELD, amount)])


def hold_release(*, actor: Actor, organization_id: int, asset: Asset, amount: int, reference: tuple[str, object],
                 idempotency_key: str) -> Posted:
    """Move `amount` from held back to available (cancel, expiry, outbid, failure)."""
    _positive(amount)
    acc = account_id(organization_id, asset.id)
    return post(kind="release", idempotency_key=idempotency_key, actor=actor, reference=reference,
                request={"account": acc, "amount": amount},
                legs=[Leg(acc, HELD, -amount), Leg(acc, AVAILABLE, amount)])


@transaction.atomic
def hold_create(*, actor: Actor, organization: Organization, asset: Asset, amount: int, idempotency_key: str,
                reference: tuple[str, object] = ("manual", "")) -> Posted:
    posted = hold_place(actor=actor, organization_id=organization.id, asset=asset, amount=amount,
                        reference=reference, idempotency_key=client_key(actor, "hold", idempotency_key))
    _audit(actor, "ledger.hold", posted, {"asset": asset.code, "amount": amount}, [organization.region_id])
    return posted


@transaction.atomic
def hold_cancel(*, actor: Actor, organization: Organization, asset: Asset, amount: int, idempotency_key: str,
                reference: tuple[str, object] = ("manual", "")) -> Posted:
    posted = hold_release(actor=actor, organization_id=organization.id, asset=asset, amount=amount,
                          reference=reference, idempotency_key=client_key(actor, "release", idempotency_key))
    _audit(actor, "ledger.release", posted, {"asset": asset.code, "amount": amount}, [organization.region_id])
    return posted


# --- transfers, retirement, expiry ------------------------------------------------------------------

@transaction.atomic
def rights_transfer(*, actor: Actor, asset: Asset, sender: Organization, recipient: Organization, amount: int,
                    idempotency_key: str, reason: str = "") -> Posted:
    """Operator-initiated transfer between organizations (available → available)."""
    _positive(amount)
    _tradable(asset)
    if sender.pk == recipient.pk:
        raise DomainError(SAME_ORGANIZATION, fields={"recipient": "must differ from sender"})
    ids = accounts_ensure([(sender.id, asset.id, "participant"), (recipient.id, asset.id, "participant")])
    # request keys are the API's field names, so that an idempotency conflict names the field the client sent
    request = {"asset": asset.code, "sender": sender.id, "recipient": recipient.id, "amount": amount,
               "reason": reason}
    posted = post(kind="transfer", idempotency_key=client_key(actor, "transfer", idempotency_key), request=request,
                  actor=actor, reference=("asset", asset.id), memo={"reason": reason},
                  legs=[Leg(ids[(sender.id, asset.id, "participant")], AVAILABLE, -amount),
                        Leg(ids[(recipient.id, asset.id, "participant")], AVAILABLE, amount)])
    _audit(actor, "rights.transfer", posted, request, [sender.region_id, recipient.region_id])
    return posted


@transaction.atomic
def rights_retire(*, actor: Actor, asset: Asset, organization: Organization, amount: int, reason: str,
                  compliance_period: str, idempotency_key: str) -> Posted:
    """Surrender for compliance (清缴/履约): participant's available → the asset's retirement account.
    Allowed for expired rights too."""
    _positive(amount)
    if asset.kind != "right":
        raise DomainError(NOT_A_RIGHT)
    ids = accounts_ensure([(organization.id, asset.id, "participant"), (None, asset.id, "retirement")])
    request = {"asset": asset.code, "organization": organization.id, "amount": amount, "reason": reason,
               "compliance_period": compliance_period}
    posted = post(kind="retire", idempotency_key=client_key(actor, "retire", idempotency_key), request=request,
                  actor=actor, reference=("asset", asset.id),
                  memo={"reason": reason, "compliance_period": compliance_period, "organization": organization.id},
                  legs=[Leg(ids[(organization.id, asset.id, "participant")], AVAILABLE, -amount),
                        Leg(ids[(None, asset.id, "retirement")], AVAILABLE, amount)])
    _audit(actor, "rights.retire", posted, request, [organization.region_id, asset.origin_region_id])
    return posted


@transaction.atomic
def rights_expire(*, actor: Actor, issuer: Organization, asset: Asset, organization: Organization,
                  idempotency_key: str) -> Posted | None:
    """The authority expires what is left of an expired right in one holder's available bucket.

    The amount is whatever is available once the holder's account is locked, so it is not part of the
    idempotent request: replaying the key returns the original expiry even when nothing is left now.
    Returns None when there is nothing to expire and the key is unused."""
    if asset.kind != "right":
        raise DomainError(NOT_A_RIGHT)
    if not asset.is_expired(today()):
        raise DomainError(ASSET_NOT_EXPIRED)
    _issuer_may_issue(issuer, asset.origin_region_id)
    key = client_key(actor, "expire", idempotency_key)
    request = {"asset": asset.code, "issuer": issuer.id, "organization": organization.id}
    ids = accounts_ensure([(organization.id, asset.id, "participant"), (None, asset.id, "expiry")])
    holder = ids[(organization.id, asset.id, "participant")]
    available = Account.objects.select_for_update().values_list("available", flat=True).get(pk=holder)
    if available == 0:
        return replay_of(idempotency_key=key, request=request)
    posted = post(kind="expire", idempotency_key=key, request=request, actor=actor, reference=("asset", asset.id),
                  memo={"issuer": issuer.id, "organization": organization.id, "amount": available},
                  legs=[Leg(holder, AVAILABLE, -available),
                        Leg(ids[(None, asset.id, "expiry")], AVAILABLE, available)])
    _audit(actor, "rights.expire", posted, {**request, "amount": available},
           [organization.region_id, asset.origin_region_id])
    return posted


def ensure_cash_asset() -> Asset:
    asset, _ = Asset.objects.get_or_create(code="CNY", defaults=dict(kind="cash", unit="CNY", scale=2,
                                                                     name_zh="人民币", name_en="Renminbi"))
    if asset.kind != "cash":
        raise DomainError(NOT_A_CASH_ASSET)
    return asset


def transaction_get(pk: int) -> LedgerTransaction:
    return LedgerTransaction.objects.prefetch_related("postings").get(pk=pk)
