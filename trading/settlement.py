"""Delivery versus payment: `trade_settle` turns a MATCHED (or APPROVED) trade into one ledger
transaction, exactly once in effect however often it runs; `trade_fail` releases a trade's escrow.

The settling transaction locks the trade row first, so two deliveries of the same task serialize and
the second sees SETTLED and does nothing; the ledger transaction's idempotency key
(`settle:trade:<id>`) is a second line of defence. Legs of the one ledger transaction:
  rights  seller held      −quantity        buyer available   +quantity
  cash    buyer held       −buyer_hold      buyer available   +(buyer_hold − value − buyer_fee)
          seller available +(value − seller_fee)   (farmland quotas sold by a government: its
                                                    earmarked farmland-protection fund instead)
          operator fee income  +(buyer_fee + seller_fee)
"""
from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.errors import ApiError
from accounts.models import GOVERNMENT_KINDS, Organization
from ledger.models import AccountKind, Asset
from ledger.posting import AVAILABLE, HELD, Leg, accounts_ensure, post
from marketplace.rules import CheckContext, evaluate

from .models import OutboxStatus, SettlementOutbox, Trade, TradeEvent, TradeStatus

log = logging.getLogger(__name__)
SETTLEABLE = {TradeStatus.MATCHED, TradeStatus.APPROVED, TradeStatus.SETTLING}
_operator: dict[str, int] = {}


def operator_organization_id() -> int:
    if "id" not in _operator:
        org = Organization.objects.filter(kind="exchange_operator").order_by("id").first()
        if org is None:
            raise RuntimeError("no exchange operator organization: fees have nowhere to go")
        _operator["id"] = org.id
    return _operator["id"]


def forget_operator() -> None:
    _operator.clear()


def _event(trade: Trade, status: str, **detail) -> TradeEvent:
    return TradeEvent(trade=trade, status=status, detail=detail)


def _proceeds_kind(trade: Trade, asset: Asset) -> str:
    if asset.right_type_id == "farmland" and trade.seller.kind in GOVERNMENT_KINDS:
        return AccountKind.EARMARKED
    return AccountKind.PARTICIPANT


def _outbox_done(trade: Trade, now: datetime) -> None:
    SettlementOutbox.objects.filter(trade=trade, status=OutboxStatus.PENDING).update(status=OutboxStatus.DONE,
                                                                                     done_at=now)


@transaction.atomic
def trade_settle(*, trade_id: int, now: datetime | None = None) -> str:
    """Settle one trade if it is due; returns the trade's status afterwards."""
    now = now or timezone.now()
    trade = (Trade.objects.select_for_update(of=("self",)).select_related("buyer", "seller", "market")
             .filter(pk=trade_id).first())
    if trade is None:
        return "missing"
    if trade.status not in SETTLEABLE:
        if trade.status in ("settled", "failed", "rejected"):
            _outbox_done(trade, now)
        return trade.status
    outbox = SettlementOutbox.objects.filter(trade=trade).only("not_before", "status").first()
    if outbox and outbox.not_before and outbox.not_before > now:
        return "not_due"
    asset = Asset.objects.get(pk=trade.asset_id)
    actor = Actor.system()

    _, refusal = evaluate(CheckContext(stage="settlement", asset=asset, at=now, buyer=trade.buyer, seller=trade.seller,
                                       price=trade.price, quantity=trade.quantity))
    if refusal and not refusal.needs_approval:
        return _fail(trade, asset, actor, now, reason=refusal.code)
    if refusal and trade.status != TradeStatus.APPROVED:
        trade.status = TradeStatus.PENDING_APPROVAL
        trade.save(update_fields=["status"])
        TradeEvent.objects.create(trade=trade, status=trade.status, detail={"rule": refusal.code,
                                                                            "jurisdiction": refusal.jurisdiction})
        audit_record(actor=actor, action="trade.pending_approval", object_type="trade", object_id=trade.id,
                     after={"rule": refusal.code}, region_codes=[trade.buyer.region_id, trade.seller.region_id])
        return trade.status

    cny_id = _cny_id()
    proceeds_kind = _proceeds_kind(trade, asset)
    fee_org = operator_organization_id()
    keys = [(trade.seller_id, asset.id, "participant"), (trade.buyer_id, asset.id, "participant"),
            (trade.buyer_id, cny_id, "participant"), (trade.seller_id, cny_id, proceeds_kind),
            (fee_org, cny_id, "fee_income")]
    ids = accounts_ensure(keys)
    refund = trade.buyer_hold - trade.value - trade.buyer_fee
    legs = [
        Leg(ids[keys[0]], HELD, -trade.seller_hold),
        Leg(ids[keys[1]], AVAILABLE, trade.quantity),
        Leg(ids[keys[2]], HELD, -trade.buyer_hold),
        Leg(ids[keys[2]], AVAILABLE, refund),
        Leg(ids[keys[3]], AVAILABLE, trade.value - trade.seller_fee),
        Leg(ids[keys[4]], AVAILABLE, trade.buyer_fee + trade.seller_fee),
    ]
    if trade.seller_hold != trade.quantity:  # a listing may escrow more than it sells: return the rest
        legs.append(Leg(ids[keys[0]], AVAILABLE, trade.seller_hold - trade.quantity))
    try:
        posted = post(kind="settle", idempotency_key=f"settle:trade:{trade.id}", actor=actor,
                      reference=("trade", trade.id), legs=legs,
                      request={"trade": trade.id, "value": trade.value, "quantity": trade.quantity},
                      memo={"buyer": trade.buyer_id, "seller": trade.seller_id, "price": trade.price,
                            "buyer_fee": trade.buyer_fee, "seller_fee": trade.seller_fee,
                            "proceeds_account": proceeds_kind})
    except ApiError as exc:  # a short escrow should be impossible: fail loudly, release what is there
        log.error("settlement of trade %s failed: %s", trade.id, exc.code)
        return _fail(trade, asset, actor, now, reason=f"settlement_error:{exc.code}", alert=True)

    previous = trade.status
    trade.status = TradeStatus.SETTLED
    trade.ledger_transaction_id = posted.transaction_id
    trade.settled_at = now
    trade.save(update_fields=["status", "ledger_transaction_id", "settled_at"])
    TradeEvent.objects.bulk_create([_event(trade, TradeStatus.SETTLING, previous=previous),
                                    _event(trade, TradeStatus.SETTLED, ledger_transaction=posted.transaction_id)])
    _outbox_done(trade, now)
    audit_record(actor=actor, action="trade.settle", object_type="trade", object_id=trade.id,
                 before={"status": previous}, after={"status": "settled", "ledger_transaction": posted.transaction_id},
                 region_codes=[trade.buyer.region_id, trade.seller.region_id])
    _after_commit_notify(trade.id, "settled")
    return trade.status


_cny: dict[str, int] = {}


def _cny_id() -> int:
    if "id" not in _cny:
        _cny["id"] = Asset.objects.values_list("id", flat=True).get(code="CNY")
    return _cny["id"]


def _release_legs(trade: Trade, asset: Asset) -> list[tuple[int, int, int]]:
    """(organization, asset, amount) escrow of a trade to give back."""
    return [(trade.buyer_id, _cny_id(), trade.buyer_hold), (trade.seller_id, asset.id, trade.seller_hold)]


def _fail(trade: Trade, asset: Asset, actor: Actor, now: datetime, *, reason: str, alert: bool = False,
          status: str = TradeStatus.FAILED) -> str:
    """Release the trade's escrow (in one ledger transaction, or side by side if one side is short) and
    mark it failed (or rejected)."""
    parts = [p for p in _release_legs(trade, asset) if p[2] > 0]
    ids = accounts_ensure([(org, a, "participant") for org, a, _ in parts])
    groups = [parts] if not alert else [[p] for p in parts]
    released = []
    for group in groups:
        legs = []
        for org, a, amount in group:
            acc = ids[(org, a, "participant")]
            legs += [Leg(acc, HELD, -amount), Leg(acc, AVAILABLE, amount)]
        try:
            post(kind="release", idempotency_key=f"release:trade:{trade.id}:{group[0][0]}:{len(group)}", actor=actor,
                 reference=("trade", trade.id), legs=legs, request={"trade": trade.id, "reason": reason})
            released += group
        except ApiError:
            log.error("could not release escrow %s of trade %s", group, trade.id)
    previous = trade.status
    trade.status = status
    trade.failure_reason = reason[:200]
    trade.save(update_fields=["status", "failure_reason"])
    TradeEvent.objects.create(trade=trade, status=status, detail={"reason": reason, "released": len(released)})
    _outbox_done(trade, now)
    audit_record(actor=actor, action=f"trade.{status}", object_type="trade", object_id=trade.id,
                 before={"status": previous}, after={"status": status, "reason": reason},
                 region_codes=[trade.buyer.region_id, trade.seller.region_id])
    if alert:
        audit_record(actor=actor, action="alert.settlement_failed", object_type="trade", object_id=trade.id,
                     after={"reason": reason, "released": [list(p) for p in released]})
    _after_commit_notify(trade.id, status)
    return status


@transaction.atomic
def trade_fail(*, trade_id: int, reason: str, actor: Actor | None = None, status: str = TradeStatus.FAILED) -> str:
    """Fail (or reject) a trade that has not settled, releasing its escrow."""
    trade = Trade.objects.select_for_update(of=("self",)).select_related("buyer", "seller").get(pk=trade_id)
    if trade.status in ("settled", "failed", "rejected"):
        return trade.status
    asset = Asset.objects.get(pk=trade.asset_id)
    return _fail(trade, asset, actor or Actor.system(), timezone.now(), reason=reason, status=status)


def _after_commit_notify(trade_id: int, status: str) -> None:
    from .notifications import notify_trade_event

    transaction.on_commit(lambda: notify_trade_event(trade_id=trade_id, status=status))
