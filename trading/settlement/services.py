"""Delivery versus payment and the trade lifecycle after matching.

    MATCHED ──────────────────────────────┐
       └→ PENDING_APPROVAL → APPROVED ────┴→ SETTLING → SETTLED
                          └→ REJECTED               └→ FAILED

`trade_settle` turns a MATCHED (or APPROVED) trade into one ledger transaction, exactly once in effect
however often and however concurrently it runs; `trade_approve` / `trade_fail(status="rejected")` are
the regulator's decisions (called by oversight); `trade_fail` also ends a trade that cannot settle.
Every transition writes a `TradeEvent` (what the parties list as notifications), an audit event, and
records the webhook deliveries it triggers, all in the transaction that makes the transition.

SETTLING is not a state a trade rests in: the settling transaction records MATCHED/APPROVED →
SETTLING → SETTLED in one commit, so a crash leaves the trade as it was and the outbox sends it again.

Exactly once: the settling transaction locks the trade row first, so two deliveries of the same task
serialize and the second sees SETTLED and does nothing; the ledger transaction's idempotency key
(`settle:trade:<id>`) is a second line of defence. Legs of the one ledger transaction:
  rights  seller held      −seller_hold     buyer available   +quantity
          seller available +(seller_hold − quantity)        (a listing that escrowed more than it sold)
  cash    buyer held       −buyer_hold      buyer available   +(buyer_hold − value − buyer_fee)  (price
                                                                improvement and unused fee reserve)
          seller available +(value − seller_fee)   (farmland quotas sold by a government: its
                                                    earmarked farmland-protection fund instead)
  fees    operator fee income +buyer_fee ; operator fee income +seller_fee  (one posting per side)

Lock order: trade row, then ledger accounts in id order (the settling statement writes its postings in
account id order and the balance trigger locks each account as it applies them, the order `post` uses
too). Placement takes market → accounts and never a trade lock while holding accounts, so the two
cannot deadlock. The ledger write and the trade's own writes are one statement, right before the
commit, which keeps the time the shared fee-income account stays locked short.

A short escrow at settlement (impossible unless something else is wrong) fails the settling statement
on the CHECK that keeps participant buckets non-negative, which rolls the attempt back whole; then, in
a transaction of its own, the trade FAILS, whatever escrow is there is released side by side, an
`alert.settlement_failed` audit event is raised, and no part of the exchange is posted.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.models import GOVERNMENT_KINDS, AuditEvent, Organization
from core.errors import DomainError
from ledger.models import AccountKind, Asset
from ledger.posting import (
    AVAILABLE,
    HELD,
    Leg,
    accounts_ensure,
    journal_params,
    legs_in_lock_order,
    post,
    shortfall,
)
from ledger.services import cny
from marketplace.rules import CheckContext, Refused, enforce
from trading.common.signals import announce_pending_approval
from trading.models import TERMINAL_TRADE_STATUSES, OutboxStatus, SettlementOutbox, Trade, TradeEvent, TradeStatus
from trading.notifications.services import notify_trade_event
from trading.settlement import outbox
from trading.settlement.errors import INVALID_TRANSITION
from trading.settlement.routing import settlement_shard
from trading.settlement.sql import SETTLE, TRADE_LOCK, settle_params

log = logging.getLogger(__name__)
SETTLEABLE = {TradeStatus.MATCHED, TradeStatus.APPROVED, TradeStatus.SETTLING}
FAILURE_ALERT = "alert.settlement_failed"
PARTY_SUSPENDED = "party_suspended"  # failure reason: the buyer or the seller is frozen


def operator_organization_id() -> int | None:
    return Organization.objects.filter(kind="exchange_operator").order_by("id").values_list("id", flat=True).first()


def _regions(trade: Trade) -> list[str]:
    return [r for r in (trade.buyer.region_id, trade.seller.region_id) if r]


def _audit_rows(actor: Actor, trade: Trade, rows: list[tuple[str, dict | None, dict | None]]) -> list[AuditEvent]:
    regions = _regions(trade)
    return [AuditEvent(actor_user_id=actor.user_id, actor_organization_id=actor.organization_id, action=action,
                       object_type="trade", object_id=str(trade.id), before=before, after=after,
                       request_id=actor.request_id or "", region_codes=regions)
            for action, before, after in rows]


def _audit_many(actor: Actor, trade: Trade, rows: list[tuple[str, dict | None, dict | None]]) -> None:
    """Audit events for the transitions of one trade, in one statement."""
    AuditEvent.objects.bulk_create(_audit_rows(actor, trade, rows))


def _proceeds_kind(trade: Trade, asset: Asset) -> str:
    """Proceeds of a government seller of a right type with an earmark purpose (`RightType.earmark_purpose`:
    farmland quotas, 指标调剂收益主要用于耕地保护、农业农村发展) go to its earmarked fund, never to its free cash."""
    if asset.right_type.earmark_purpose and trade.seller.kind in GOVERNMENT_KINDS:
        return AccountKind.EARMARKED
    return AccountKind.PARTICIPANT


def _outbox_done(trade: Trade, now: datetime) -> None:
    SettlementOutbox.objects.filter(trade=trade, status=OutboxStatus.PENDING).update(status=OutboxStatus.DONE,
                                                                                     done_at=now)


def _lock_trade(trade_id: int) -> Trade | None:
    """Lock the trade row (nothing else) and read what settling it needs in the same statement: the
    parties, the market, the outbox row, and the ids of the CNY asset and of the operator (read here
    because a column of a statement that runs anyway costs nothing; caching: README, "Per-process
    caches")."""
    loaded = TRADE_LOCK.one(trade=trade_id)
    if loaded is None:
        return None
    trade, extra = loaded[0], loaded.extra
    trade.cny_id, trade.operator_id, trade.rules_generation = extra["cny_id"], extra["operator_id"], \
        extra["rules_generation"]
    return trade


_assets: dict[int, tuple[float, Asset]] = {}
ASSET_CACHE_SECONDS = 60.0  # as long as the rulebook's own compiled reference data (marketplace.rules.MAX_AGE)


def traded_asset(asset_id: int) -> Asset:
    """The traded instrument, from a per-process cache refreshed every ASSET_CACHE_SECONDS (README,
    "Per-process caches": the settlement re-check may see a change of an instrument's data that late)."""
    hit = _assets.get(asset_id)
    if hit is None or time.monotonic() - hit[0] > ASSET_CACHE_SECONDS:
        hit = (time.monotonic(), Asset.objects.select_related("right_type").get(pk=asset_id))
        _assets[asset_id] = hit
    return hit[1]


_asset = traded_asset


def _outbox_of(trade: Trade) -> SettlementOutbox | None:
    try:
        return trade.outbox
    except SettlementOutbox.DoesNotExist:
        return None


class _EscrowShort(Exception):
    """The settlement statement failed on a CHECK: some escrow is not there (should be impossible)."""

    def __init__(self, legs: list[Leg], error: Exception):
        super().__init__(str(error))
        self.legs, self.error = legs, error


EscrowShort = _EscrowShort  # what `settle_write` raises, for callers outside this module


def trade_settle(*, trade_id: int, now: datetime | None = None) -> str:
    """Settle one trade if it is due; returns the trade's status afterwards ("not_due" for an
    end-of-day trade before its cut-off, "missing" for an unknown id).

    Round trips on the way to SETTLED, both prepared statements: the trade lock (with everything it
    needs, the rulebook generation included) and one statement for every write (`sql.settle_statement`),
    then the commit. A short escrow fails that statement and with it the transaction; the trade is then
    failed, with an alert, in a transaction of its own."""
    try:
        return _trade_settle(trade_id=trade_id, now=now)
    except _EscrowShort as short:
        code = shortfall(short.legs)
        if code is None:  # not short any more: an error of another kind, or a race; retry as any error
            raise short.error
        log.error("settlement of trade %s failed: %s", trade_id, code)
        return trade_fail(trade_id=trade_id, reason=f"settlement_error:{code}", alert=True)


@transaction.atomic
def _trade_settle(*, trade_id: int, now: datetime | None) -> str:
    now = now or timezone.now()
    trade = _lock_trade(trade_id)
    if trade is None:
        return "missing"
    if trade.status not in SETTLEABLE:
        if trade.status in TERMINAL_TRADE_STATUSES:
            _outbox_done(trade, now)
        return trade.status
    outbox = _outbox_of(trade)
    if outbox is not None and outbox.not_before and outbox.not_before > now:
        return "not_due"
    asset = _asset(trade.asset_id)
    actor = Actor.system()
    try:
        _, refusal = enforce(CheckContext(stage="settlement", asset=asset, at=now, buyer=trade.buyer,
                                          seller=trade.seller, price=trade.price, quantity=trade.quantity,
                                          rules_generation=trade.rules_generation))
    except Refused as stop:
        return _fail(trade, asset, actor, now, reason=stop.code)
    if not (trade.buyer.is_active and trade.seller.is_active):
        # platform invariant (not a rulebook rule), in every market whatever its rules: a suspended party
        # never settles; the trade fails, both escrows go back and an alert is raised for the operator
        return _fail(trade, asset, actor, now, reason=PARTY_SUSPENDED, alert=True)
    if refusal and trade.status != TradeStatus.APPROVED:
        return _to_pending_approval(trade, actor, refusal)

    return settle_write(trade, asset=asset, actor=actor, now=now)


def settlement_clear(trade: Trade, *, asset: Asset, now: datetime) -> bool:
    """Whether a freshly MATCHED trade may settle at once without more ado: the rulebook's settlement
    stage neither refuses it nor asks for approval, and both parties are active (`trade_settle`'s checks;
    anything else is left to `trade_settle`, through the outbox, which fails it or sends it for
    approval). Used by the matching engine to settle inside its batch (#19)."""
    try:
        _, refusal = enforce(CheckContext(stage="settlement", asset=asset, at=now, buyer=trade.buyer,
                                          seller=trade.seller, price=trade.price, quantity=trade.quantity,
                                          rules_generation=getattr(trade, "rules_generation", None)))
    except Refused:
        return False
    return refusal is None and trade.buyer.is_active and trade.seller.is_active


def settle_accounts(trade: Trade, *, asset: Asset) -> list[tuple]:
    """The account keys (organization, asset, kind[, shard]) that settling `trade` posts to (it needs
    `trade.cny_id` and `trade.operator_id`): for a caller that locks every account of a batch at once,
    in id order, before writing (the matching engine)."""
    return list(_settle_keys(trade, asset).values())


def _settle_keys(trade: Trade, asset: Asset) -> dict[str, tuple]:
    cny_id = trade.cny_id
    keys = {"seller_rights": (trade.seller_id, asset.id, AccountKind.PARTICIPANT),
            "buyer_rights": (trade.buyer_id, asset.id, AccountKind.PARTICIPANT),
            "buyer_cash": (trade.buyer_id, cny_id, AccountKind.PARTICIPANT),
            "seller_cash": (trade.seller_id, cny_id, _proceeds_kind(trade, asset))}
    if trade.buyer_fee + trade.seller_fee:
        # one fee account per settlement queue: markets on different queues never wait on one row
        keys["fee_income"] = (trade.operator_id, cny_id, AccountKind.FEE_INCOME,
                              settlement_shard(trade.market_id, trade.listing_id))
    return keys


def settle_write(trade: Trade, *, asset: Asset, actor: Actor, now: datetime) -> str:
    """Write the settlement of a MATCHED or APPROVED trade whose checks passed: ONE statement (the
    ledger transaction under the key `settle:trade:<id>`, the trade SETTLED, its outbox row done, its
    events and audit rows; `sql.settle_statement`), in the caller's transaction, which must hold the
    trade row (locked, or written by this very transaction). `trade.cny_id` and `trade.operator_id` must
    be set. A short escrow raises `_EscrowShort` (the statement failed, so the transaction is aborted)."""
    fees = trade.buyer_fee + trade.seller_fee
    if fees and trade.operator_id is None:
        raise RuntimeError("no exchange operator organization: fees have nowhere to go")
    cny_id = trade.cny_id
    keys = _settle_keys(trade, asset)
    proceeds_kind = keys["seller_cash"][2]
    ids = accounts_ensure(list(keys.values()))
    seller_rights, buyer_rights = ids[keys["seller_rights"]], ids[keys["buyer_rights"]]
    buyer_cash, seller_cash = ids[keys["buyer_cash"]], ids[keys["seller_cash"]]
    legs = [
        Leg(seller_rights, HELD, -trade.seller_hold),
        Leg(buyer_rights, AVAILABLE, trade.quantity),
        Leg(seller_rights, AVAILABLE, trade.seller_hold - trade.quantity),
        Leg(buyer_cash, HELD, -trade.buyer_hold),
        Leg(buyer_cash, AVAILABLE, trade.buyer_hold - trade.value - trade.buyer_fee),
        Leg(seller_cash, AVAILABLE, trade.value - trade.seller_fee),
    ]
    asset_of = {seller_rights: asset.id, buyer_rights: asset.id, buyer_cash: cny_id, seller_cash: cny_id}
    if fees:
        fee_income = ids[keys["fee_income"]]
        legs += [Leg(fee_income, AVAILABLE, trade.buyer_fee), Leg(fee_income, AVAILABLE, trade.seller_fee)]
        asset_of[fee_income] = cny_id
    legs = legs_in_lock_order(legs)
    ledger = journal_params(kind="settle", idempotency_key=f"settle:trade:{trade.id}", actor=actor,
                            reference=("trade", trade.id), legs=legs, assets=[asset_of[leg.account_id] for leg in legs],
                            request={"trade": trade.id, "value": trade.value, "quantity": trade.quantity},
                            memo={"buyer": trade.buyer_id, "seller": trade.seller_id, "price": trade.price,
                                  "buyer_fee": trade.buyer_fee, "seller_fee": trade.seller_fee,
                                  "proceeds_account": proceeds_kind,
                                  "market": trade.market_id, "listing": trade.listing_id})
    previous = trade.status
    settled_after = {"status": "settled", "value": trade.value, "fees": [trade.buyer_fee, trade.seller_fee],
                     "proceeds_account": proceeds_kind}
    params = settle_params(ledger=ledger, trade=trade, previous=previous, now=now, actor=actor,
                           regions=_regions(trade), settled_after=settled_after)
    try:
        with connection.cursor() as cur:
            SETTLE.execute(cur, params)
            rows = cur.fetchall()
    except IntegrityError as exc:
        if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) == "account_non_negative":
            raise _EscrowShort(legs, exc) from exc
        raise
    if not rows:
        # the ledger key is taken although the locked trade is not settled: the ledger and the trade
        # disagree; nothing was written, and the task's retries end in an alert
        raise RuntimeError(f"ledger key settle:trade:{trade.id} already used by an unsettled trade")
    trade.status = TradeStatus.SETTLED
    trade.ledger_transaction_id = rows[0][0]
    trade.settled_at = now
    endpoints = [row[1:] for row in rows if row[1] is not None]
    if endpoints:
        _record_webhooks(trade, "settled", asset, endpoints=endpoints)
    return trade.status


def _to_pending_approval(trade: Trade, actor: Actor, refusal) -> str:
    previous = trade.status
    trade.status = TradeStatus.PENDING_APPROVAL
    trade.save(update_fields=["status"])
    TradeEvent.objects.create(trade=trade, status=trade.status, detail={"rule": refusal.code,
                                                                        "jurisdiction": refusal.jurisdiction})
    _audit_many(actor, trade, [("trade.pending_approval", {"status": previous},
                                {"status": trade.status, "rule": refusal.code, "jurisdiction": refusal.jurisdiction})])
    announce_pending_approval([trade])
    return trade.status


def _release_parts(trade: Trade, asset: Asset, cny_id: int) -> list[tuple[int, int, int]]:
    """(organization, asset, amount) escrow of a trade to give back."""
    return [p for p in ((trade.buyer_id, cny_id, trade.buyer_hold), (trade.seller_id, asset.id, trade.seller_hold))
            if p[2] > 0]


def _fail(trade: Trade, asset: Asset, actor: Actor, now: datetime, *, reason: str, alert: bool = False,
          status: str = TradeStatus.FAILED) -> str:
    """Release the trade's escrow and mark it failed (or rejected). Normally one ledger transaction
    releases both sides; with `alert` (something is already inconsistent) each side is released on its
    own, so that one short side does not keep the other side's escrow locked up."""
    cny_id = getattr(trade, "cny_id", None) or cny().id
    parts = _release_parts(trade, asset, cny_id)
    ids = accounts_ensure([(org, a, AccountKind.PARTICIPANT) for org, a, _ in parts])
    groups = [[p] for p in parts] if alert else ([parts] if parts else [])
    released, short = [], []
    for group in groups:
        legs = []
        for org, a, amount in group:
            acc = ids[(org, a, AccountKind.PARTICIPANT)]
            legs += [Leg(acc, HELD, -amount), Leg(acc, AVAILABLE, amount)]
        try:
            post(kind="release", idempotency_key=f"release:trade:{trade.id}:{group[0][0]}:{len(group)}", actor=actor,
                 reference=("trade", trade.id), legs=legs, request={"trade": trade.id, "reason": reason})
            released += group
        except DomainError as exc:
            log.error("could not release escrow %s of trade %s: %s", group, trade.id, exc.code)
            short += group
    previous = trade.status
    trade.status = status
    trade.failure_reason = reason[:200]
    trade.save(update_fields=["status", "failure_reason"])
    TradeEvent.objects.create(trade=trade, status=status, detail={"reason": reason, "released": len(released)})
    _outbox_done(trade, now)
    rows = [(f"trade.{status}", {"status": previous}, {"status": status, "reason": reason,
                                                       "released": [list(p) for p in released]})]
    if alert:
        rows.append((FAILURE_ALERT, None, {"reason": reason, "released": [list(p) for p in released],
                                           "not_released": [list(p) for p in short]}))
    _audit_many(actor, trade, rows)
    _record_webhooks(trade, status, asset)
    return status


@transaction.atomic
def trade_fail(*, trade_id: int, reason: str, actor: Actor | None = None, status: str = TradeStatus.FAILED,
               alert: bool = False) -> str:
    """Fail a trade that has not settled, releasing its escrow (a trade already in a final state is left
    as it is); with status="rejected", reject a trade pending approval (`invalid_trade_transition` when
    it is not pending approval, a no-op when it is already rejected). `alert` raises an
    `alert.settlement_failed` audit event and releases each side on its own."""
    if status not in (TradeStatus.FAILED, TradeStatus.REJECTED):
        raise ValueError("status must be failed or rejected")
    trade = _lock_trade(trade_id)
    if trade is None:
        raise DomainError("not_found")
    if status == TradeStatus.REJECTED:
        if trade.status == TradeStatus.REJECTED:
            return trade.status  # rejecting twice is a no-op
        if trade.status != TradeStatus.PENDING_APPROVAL:
            raise DomainError(INVALID_TRANSITION)
    elif trade.status in TERMINAL_TRADE_STATUSES:
        return trade.status
    return _fail(trade, _asset(trade.asset_id), actor or Actor.system(), timezone.now(), reason=reason,
                 status=status, alert=alert)


@transaction.atomic
def trade_approve(*, trade_id: int, actor: Actor, note: str = "") -> str:
    """A regulator approves a trade pending approval: APPROVED, its settlement due again (at once, or at
    the market's next end-of-day cut-off), the nudge sent after commit. Approving again is a no-op;
    approving a trade that is not pending approval is `invalid_trade_transition`."""
    trade = _lock_trade(trade_id)
    if trade is None:
        raise DomainError("not_found")
    if trade.status in (TradeStatus.APPROVED, TradeStatus.SETTLING, TradeStatus.SETTLED):
        return trade.status
    if trade.status != TradeStatus.PENDING_APPROVAL:
        raise DomainError(INVALID_TRANSITION)
    now = timezone.now()
    trade.status = TradeStatus.APPROVED
    trade.save(update_fields=["status"])
    TradeEvent.objects.create(trade=trade, status=trade.status,
                              detail={"by_organization": actor.organization_id, "note": note[:200]})
    _audit_many(actor, trade, [("trade.approve", {"status": TradeStatus.PENDING_APPROVAL},
                                {"status": TradeStatus.APPROVED, "note": note[:200]})])
    row = outbox.outbox_make_due(trade, now=now)
    if not outbox.is_deferred(trade.market):
        trade_id, queue = trade.id, row.queue
        transaction.on_commit(lambda: outbox.send_settlement(trade_id, queue))
    return trade.status


def _record_webhooks(trade: Trade, status: str, asset: Asset | None = None, endpoints=None) -> None:
    notify_trade_event(trade=trade, status=status, asset=asset, endpoints=endpoints)
