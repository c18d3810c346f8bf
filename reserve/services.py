"""Use cases of the government reserve (收储): designation (four eyes), buy-back notices and tenders,
releases through the listing mechanisms with the guided-price floor.

* `designation_propose` (an operator admin) / `designation_decide` (another person of the operator:
  the proposer is refused with `four_eyes_required`, and a DB constraint forbids it too).
* `notice_open` (the designated body): holds price × quantity of its cash (rounded up once) in one ledger
  transaction. `tender` (any other holder): one ledger transaction, delivery versus payment — the
  holder's available rights go to the reserve body, the notice's escrowed cash to the holder. Payments are
  computed cumulatively (the value of everything tendered so far, rounded up, minus what was paid), so
  the tenders of a notice together are paid exactly the rounded-up value of what they delivered and never
  more than the escrow. No exchange fee is charged on a buy-back (a government price-support operation,
  our choice). Tenders are first come, first served under the notice's row lock; the notice closes
  itself when filled. `notice_close` (the body, or the operator) releases what is left of the escrow.
* `release` (the designated body): a fixed-price listing or an English/sealed auction of reserve rights
  through `trading.listings.services.listing_create` (its checks, its escrow), refused when the price (the
  auction's reserve price) is below the designation's floor.

Locks: the notice row (`SELECT … FOR UPDATE`), then the ledger accounts in id order (`post`), the same
"object → accounts" order as listings. Every use case writes its audit event in its transaction, with
the reserve body's and the counterparty's regions, so regulators find them in the audit log too.
"""
from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import GOVERNMENT_KINDS, Organization
from accounts.permissions import OPERATOR_KIND
from core.errors import DomainError
from core.money import ceil_div, from_minor
from ledger.checks import AssetValid
from ledger.errors import NOT_A_RIGHT, UNKNOWN_ASSET, UNKNOWN_RIGHT_TYPE
from ledger.models import AccountKind, Asset, RightType
from ledger.posting import AVAILABLE, HELD, Leg, accounts_ensure, post
from ledger.services import cny, hold_place, hold_release
from marketplace.proposals import FOUR_EYES
from marketplace.rules import OrganizationActive
from oversight.four_eyes import FourEyes, NotProposer
from trading.listings.services import listing_create
from trading.models import ListingKind

from .errors import (
    BELOW_FLOOR,
    DESIGNATION_NOT_PROPOSED,
    INVALID_RESERVE_BODY,
    NOT_RESERVE_BODY,
    NOTICE_NOT_OPEN,
    OWN_NOTICE,
    RELEASE_KIND,
    TENDER_EXCEEDS_REMAINING,
)
from .models import BuybackNotice, Designation, DesignationStatus, NoticeStatus, Release, Tender

RELEASE_KINDS = (ListingKind.FIXED_PRICE, ListingKind.ENGLISH, ListingKind.SEALED)
# the four-eyes rule of a designation (oversight.four_eyes): an identified person other than its proposer
DESIGNATION_DECIDER = FourEyes(((NotProposer, FOUR_EYES),))


def _regions(*codes) -> list[str]:
    return list(dict.fromkeys(c for c in codes if c))


# --- designation ---------------------------------------------------------------------------------------------

@transaction.atomic
def designation_propose(*, actor: Actor, right_type_id: str, organization_id: int, floor_price: int | None = None,
                        note: str = "") -> Designation:
    """An operator admin proposes which government body holds the reserve of a right type (and its floor)."""
    right_type = RightType.objects.filter(pk=right_type_id).first()
    if right_type is None:
        raise DomainError(UNKNOWN_RIGHT_TYPE, fields={"right_type": right_type_id})
    body = Organization.objects.filter(pk=organization_id).first()
    if body is None or body.kind not in GOVERNMENT_KINDS:
        raise DomainError(INVALID_RESERVE_BODY, fields={"organization": "a government body"})
    if floor_price is not None and (not isinstance(floor_price, int) or floor_price <= 0):
        raise DomainError("validation_error", fields={"floor_price": "a positive price"})
    designation = Designation.objects.create(right_type=right_type, organization=body, floor_price=floor_price,
                                             note=note, proposed_by_id=actor.user_id)
    audit_record(actor=actor, action="reserve.designation_propose", object_type="reserve_designation",
                 object_id=designation.id, after={"right_type": right_type.code, "organization": body.id,
                                                  "floor_price": floor_price, "note": note},
                 region_codes=_regions(body.region_id))
    return designation


def designation_decide(*, actor: Actor, designation_id: int, confirm: bool, reason: str = "") -> Designation:
    """A second person of the operator confirms (the designation becomes active, superseding the right
    type's previous one) or rejects a proposal. The proposer's attempt is refused and audited (outside the
    refused transaction)."""
    try:
        return _decide(actor=actor, designation_id=designation_id, confirm=confirm, reason=reason)
    except DomainError as exc:
        if exc.code == FOUR_EYES:
            designation = Designation.objects.select_related("organization").get(pk=designation_id)
            audit_record(actor=actor, action="reserve.designation_refused", object_type="reserve_designation",
                         object_id=designation.id, after={"reason": FOUR_EYES},
                         region_codes=_regions(designation.organization.region_id))
        raise


@transaction.atomic
def _decide(*, actor: Actor, designation_id: int, confirm: bool, reason: str) -> Designation:
    designation = Designation.objects.select_for_update().filter(pk=designation_id).first()
    if designation is None:
        raise DomainError("not_found")
    if designation.status != DesignationStatus.PROPOSED:
        raise DomainError(DESIGNATION_NOT_PROPOSED)
    DESIGNATION_DECIDER.enforce(user_id=actor.user_id, proposers=(designation.proposed_by_id,))
    now = timezone.now()
    before = {"status": designation.status}
    if confirm:
        Designation.objects.filter(right_type=designation.right_type, status=DesignationStatus.ACTIVE).update(
            status=DesignationStatus.SUPERSEDED)
        designation.status = DesignationStatus.ACTIVE
    else:
        designation.status = DesignationStatus.REJECTED
    designation.decided_by_id, designation.decided_at = actor.user_id, now
    designation.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(actor=actor, action="reserve.designation_" + ("confirm" if confirm else "reject"),
                 object_type="reserve_designation", object_id=designation.id, before=before,
                 after={"status": designation.status, "reason": reason},
                 region_codes=_regions(designation.organization.region_id))
    return designation


def active_designation(right_type_id: str) -> Designation | None:
    return (Designation.objects.select_related("organization")
            .filter(right_type_id=right_type_id, status=DesignationStatus.ACTIVE).first())


def _reserve_of(body: Organization, asset: Asset) -> Designation:
    designation = active_designation(asset.right_type_id)
    if designation is None or designation.organization_id != body.id:
        raise DomainError(NOT_RESERVE_BODY, fields={"asset": asset.code})
    return designation


def _right(asset_id) -> Asset:
    asset = Asset.objects.select_related("right_type").filter(pk=asset_id).first()
    if asset is None:
        raise DomainError(UNKNOWN_ASSET, fields={"asset": str(asset_id)})
    if asset.kind != "right":
        raise DomainError(NOT_A_RIGHT, fields={"asset": asset.code})
    return asset


# --- buy-back notices and tenders -----------------------------------------------------------------------------

@transaction.atomic
def notice_open(*, actor: Actor, body: Organization, asset_id: int, price: int, quantity: int,
                title: str = "") -> BuybackNotice:
    """The reserve body posts a public buy-back at `price` for `quantity`, escrowing the whole cash."""
    asset = _right(asset_id)
    OrganizationActive.enforce(organization=body)
    designation = _reserve_of(body, asset)
    AssetValid.enforce(asset=asset, on=timezone.localdate())
    for name, value in (("price", price), ("quantity", quantity)):
        if not isinstance(value, int) or value <= 0:
            raise DomainError("validation_error", fields={name: "a positive amount"})
    held = ceil_div(price * quantity, 10**asset.scale)
    notice = BuybackNotice(designation=designation, organization=body, asset=asset, price=price, quantity=quantity,
                           remaining=quantity, held=held, title=title, hold_transaction_id=0)
    notice.save()
    posted = hold_place(actor=actor, organization_id=body.id, asset=cny(), amount=held,
                        reference=("reserve_buyback", notice.id), idempotency_key=f"reserve:buyback:{notice.id}:hold")
    notice.hold_transaction_id = posted.transaction_id
    notice.save(update_fields=["hold_transaction_id"])
    audit_record(actor=actor, action="reserve.buyback_open", object_type="reserve_buyback", object_id=notice.id,
                 after={"asset": asset.code, "price": price, "quantity": quantity, "held": held, "title": title},
                 region_codes=_regions(body.region_id, asset.origin_region_id))
    return notice


def _lock_notice(notice_id: int) -> BuybackNotice:
    notice = (BuybackNotice.objects.select_for_update(of=("self",)).select_related("asset", "organization")
              .filter(pk=notice_id).first())
    if notice is None:
        raise DomainError("not_found")
    return notice


@transaction.atomic
def tender(*, actor: Actor, holder: Organization, notice_id: int, quantity: int) -> Tender:
    """A holder sells `quantity` into an open notice: one ledger transaction, rights for escrowed cash."""
    notice = _lock_notice(notice_id)
    if notice.status != NoticeStatus.OPEN:
        raise DomainError(NOTICE_NOT_OPEN)
    if holder.id == notice.organization_id:
        raise DomainError(OWN_NOTICE)
    OrganizationActive.enforce(organization=holder)
    AssetValid.enforce(asset=notice.asset, on=timezone.localdate())
    if not isinstance(quantity, int) or quantity <= 0:
        raise DomainError("validation_error", fields={"quantity": "a positive amount"})
    if quantity > notice.remaining:
        raise DomainError(TENDER_EXCEEDS_REMAINING, fields={"quantity": f"at most {notice.remaining}"})
    scale = notice.asset.scale
    delivered = notice.quantity - notice.remaining + quantity
    value = ceil_div(notice.price * delivered, 10**scale) - notice.paid  # cumulative: never over the escrow
    cash, asset = cny(), notice.asset
    keys = [(holder.id, asset.id, AccountKind.PARTICIPANT), (notice.organization_id, asset.id, AccountKind.PARTICIPANT),
            (notice.organization_id, cash.id, AccountKind.PARTICIPANT), (holder.id, cash.id, AccountKind.PARTICIPANT)]
    ids = accounts_ensure(keys)
    posted = post(kind="transfer", idempotency_key=f"reserve:buyback:{notice.id}:tender:{delivered}", actor=actor,
                  reference=("reserve_buyback", notice.id),
                  request={"notice": notice.id, "holder": holder.id, "quantity": quantity, "value": value},
                  memo={"buyback": notice.id, "price": notice.price, "holder": holder.id},
                  legs=[Leg(ids[keys[0]], AVAILABLE, -quantity), Leg(ids[keys[1]], AVAILABLE, quantity),
                        Leg(ids[keys[2]], HELD, -value), Leg(ids[keys[3]], AVAILABLE, value)])
    row = Tender.objects.create(notice=notice, holder=holder, quantity=quantity, value=value,
                                ledger_transaction_id=posted.transaction_id)
    notice.remaining -= quantity
    notice.paid += value
    fields = ["remaining", "paid"]
    if notice.remaining == 0:
        _close(notice, actor)
        fields += ["status", "closed_at", "release_transaction_id"]
    notice.save(update_fields=fields)
    audit_record(actor=actor, action="reserve.tender", object_type="reserve_buyback", object_id=notice.id,
                 after={"tender": row.id, "holder": holder.id, "quantity": quantity, "value": value,
                        "remaining": notice.remaining, "ledger_transaction": posted.transaction_id},
                 region_codes=_regions(holder.region_id, notice.organization.region_id, asset.origin_region_id))
    return row


def _close(notice: BuybackNotice, actor: Actor) -> None:
    left = notice.held - notice.paid
    if left:
        released = hold_release(actor=actor, organization_id=notice.organization_id, asset=cny(), amount=left,
                                reference=("reserve_buyback", notice.id),
                                idempotency_key=f"reserve:buyback:{notice.id}:release")
        notice.release_transaction_id = released.transaction_id
    notice.status, notice.closed_at = NoticeStatus.CLOSED, timezone.now()


@transaction.atomic
def notice_close(*, actor: Actor, organization: Organization, notice_id: int) -> BuybackNotice:
    """The reserve body (or the operator) ends a notice early; what is left of the escrow goes back."""
    notice = _lock_notice(notice_id)
    if organization.id != notice.organization_id and organization.kind != OPERATOR_KIND:
        raise DomainError("not_found")
    if notice.status != NoticeStatus.OPEN:
        raise DomainError(NOTICE_NOT_OPEN)
    _close(notice, actor)
    notice.save(update_fields=["status", "closed_at", "release_transaction_id"])
    audit_record(actor=actor, action="reserve.buyback_close", object_type="reserve_buyback", object_id=notice.id,
                 after={"remaining": notice.remaining, "paid": notice.paid, "released": notice.held - notice.paid},
                 region_codes=_regions(notice.organization.region_id, notice.asset.origin_region_id))
    return notice


# --- releases --------------------------------------------------------------------------------------------------

def release(*, actor: Actor, body: Organization, asset_id: int, kind: str, quantity: int, price: int | None = None,
            reserve_price: int | None = None, min_increment: int | None = None, divisible: bool = False,
            min_purchase: int | None = None, end_at: datetime | None = None, provenance: dict | None = None,
            title: str = "") -> Release:
    """Sell reserve rights through a fixed-price listing or an auction, not below the guided floor. A
    release below the floor is refused and the refusal audited (outside the refused transaction)."""
    try:
        return _release(actor=actor, body=body, asset_id=asset_id, kind=kind, quantity=quantity, price=price,
                        reserve_price=reserve_price, min_increment=min_increment, divisible=divisible,
                        min_purchase=min_purchase, end_at=end_at, provenance=provenance, title=title)
    except _BelowFloor as refused:
        audit_record(actor=actor, action="reserve.release_refused", object_type="reserve_designation",
                     object_id=refused.designation.id, after=refused.after,
                     region_codes=_regions(body.region_id, refused.origin))
        raise refused.error from None


class _BelowFloor(Exception):
    def __init__(self, error: DomainError, designation: Designation, after: dict, origin: str | None):
        super().__init__(error.code)
        self.error, self.designation, self.after, self.origin = error, designation, after, origin


@transaction.atomic
def _release(*, actor, body, asset_id, kind, quantity, price, reserve_price, min_increment, divisible, min_purchase,
             end_at, provenance, title) -> Release:
    asset = _right(asset_id)
    designation = _reserve_of(body, asset)
    if kind not in RELEASE_KINDS:
        raise DomainError(RELEASE_KIND, fields={"kind": "fixed_price, english or sealed"})
    asked = price if kind == ListingKind.FIXED_PRICE else reserve_price
    floor = designation.floor_price
    error = _below_floor(designation, kind, asked)
    if error is not None:
        raise _BelowFloor(error, designation, {"asset": asset.code, "price": asked, "floor": floor},
                          asset.origin_region_id)
    listing = listing_create(actor=actor, seller=body, kind=kind, asset_id=asset.id, quantity=quantity, price=price,
                             reserve_price=reserve_price, min_increment=min_increment, divisible=divisible,
                             min_purchase=min_purchase, end_at=end_at, provenance=provenance,
                             title=title or f"收储投放 / reserve release {asset.code}")
    row = Release.objects.create(designation=designation, organization=body, asset=asset, listing_id=listing.id,
                                 kind=kind, quantity=quantity, price=asked, floor_price=floor)
    audit_record(actor=actor, action="reserve.release", object_type="reserve_release", object_id=row.id,
                 after={"listing": listing.id, "asset": asset.code, "kind": kind, "quantity": quantity,
                        "price": asked, "floor": floor},
                 region_codes=_regions(body.region_id, asset.origin_region_id))
    return row


def refuse_direct_listing_below_floor(sender, *, seller: Organization, asset: Asset, kind: str, price: int | None,
                                      **kwargs) -> None:
    """Receiver of `trading.common.signals.listing_checking`: the body holding a right type's reserve may
    not list that right type below the designation's guided floor, whichever way it lists (a release
    checks the same floor first and audits its refusal). Connected in `ReserveConfig.ready`."""
    designation = active_designation(asset.right_type_id)
    if designation is not None and designation.organization_id == seller.id:
        error = _below_floor(designation, kind, price)
        if error is not None:
            raise error


def _below_floor(designation: Designation, kind: str, price: int | None) -> DomainError | None:
    """The refusal of a reserve sale at `price` (the fixed price or the auction's reserve price) under the
    designation's guided floor; None when there is no floor or the price meets it."""
    floor = designation.floor_price
    if floor is None or (price is not None and price >= floor):
        return None
    field = "price" if kind == ListingKind.FIXED_PRICE else "reserve_price"
    return DomainError(BELOW_FLOOR, floor=from_minor(floor, 2), fields={field: "below the floor"})
