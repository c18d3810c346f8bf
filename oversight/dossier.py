"""A trade's full dossier for a regulator: the trade and its lifecycle, the orders or listing and bids
behind it, the rule checks (the version it was checked against and a re-evaluation under the rulebook
in force now), the approval request and its decisions, its ledger transactions with the Merkle
inclusion proof of the settlement against the latest signed checkpoint, and every audit event about
the trade, its orders, listing and approval."""
from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from accounts.models import AuditEvent
from core.money import from_minor
from ledger.models import Asset, Checkpoint, LedgerTransaction, MerkleLeaf
from ledger.sealing import inclusion_proof
from marketplace.rules import CheckContext, evaluate_all
from trading.models import Bid, Listing, Order, Trade

from .models import ApprovalRequest


def _order(o: Order | None, scale: int) -> dict | None:
    if o is None:
        return None
    return {"id": o.id, "organization": o.organization_id, "user": o.user_id, "side": o.side,
            "price": from_minor(o.price, 2), "quantity": from_minor(o.quantity, scale),
            "remaining": from_minor(o.remaining, scale), "status": o.status, "cancel_reason": o.cancel_reason,
            "time_in_force": o.time_in_force, "rule_version": o.rule_version, "created_at": o.created_at}


def _org(o) -> dict:
    return {"id": o.id, "name_zh": o.name_zh, "kind": o.kind, "region": o.region_id, "status": o.status}


def _ledger(txn: LedgerTransaction, checkpoint: Checkpoint | None) -> dict:
    out = {"id": txn.id, "kind": txn.kind, "created_at": txn.created_at, "idempotency_key": txn.idempotency_key,
           "memo": txn.memo,
           "postings": [{"id": p.id, "account": p.account_id, "organization": p.account.organization_id,
                         "account_kind": p.account.kind, "asset": p.asset.code, "bucket": p.bucket,
                         "amount": from_minor(p.amount, p.asset.scale)} for p in txn.postings.all()]}
    leaf = MerkleLeaf.objects.filter(transaction_id=txn.id).first()
    if leaf is None or checkpoint is None or checkpoint.tree_size <= leaf.index:
        out["proof"] = None  # not sealed yet: the sealer runs every few seconds
        return out
    out["proof"] = {
        "leaf_index": leaf.index, "leaf_hash": bytes(leaf.leaf_hash).hex(),
        "tree_size": checkpoint.tree_size, "root_hash": bytes(checkpoint.root_hash).hex(),
        "checkpoint_hash": bytes(checkpoint.checkpoint_hash).hex(), "signature": checkpoint.signature,
        "key_id": checkpoint.key_id,
        "audit_path": [h.hex() for h in inclusion_proof(leaf.index, checkpoint.tree_size)],
    }
    out["proof"]["path"] = out["proof"]["audit_path"]  # deprecated: the old name, one release
    return out


def _refusal(r) -> dict:
    return {"code": r.code, "kind": r.rule_kind, "needs_approval": r.needs_approval, "jurisdiction": r.jurisdiction,
            "notice_days": r.notice_days, "params": r.message_params}


def trade_dossier(trade: Trade) -> dict:
    asset = Asset.objects.select_related("right_type").get(pk=trade.asset_id)
    scale = asset.scale
    listing = Listing.objects.filter(pk=trade.listing_id).first() if trade.listing_id else None
    bids = list(Bid.objects.filter(listing_id=trade.listing_id).order_by("id")) if listing else []
    version, refusals = evaluate_all(CheckContext(stage="settlement", asset=asset, at=timezone.now(),
                                                  buyer=trade.buyer, seller=trade.seller, price=trade.price,
                                                  quantity=trade.quantity))
    request = ApprovalRequest.objects.filter(trade=trade).prefetch_related("decisions").first()
    checkpoint = Checkpoint.objects.order_by("-tree_size").first()
    txns = (LedgerTransaction.objects.filter(Q(reference_type="trade", reference_id=str(trade.id))
                                             | Q(pk=trade.ledger_transaction_id or 0))
            .prefetch_related("postings__asset", "postings__account").order_by("id"))
    order_ids = [str(o) for o in (trade.buy_order_id, trade.sell_order_id) if o]
    audit_q = Q(object_type="trade", object_id=str(trade.id)) | Q(object_type="order", object_id__in=order_ids)
    if listing:
        audit_q |= Q(object_type="listing", object_id=str(listing.id))
    if request:
        audit_q |= Q(object_type="approval", object_id=str(request.id))
    audit = AuditEvent.objects.filter(audit_q).order_by("id")
    return {
        "trade": {
            "id": trade.id, "status": trade.status, "source": trade.source,
            "market": trade.market.code if trade.market_id else None, "listing": trade.listing_id,
            "asset": {"id": asset.id, "code": asset.code, "right_type": asset.right_type_id, "subtype": asset.subtype,
                      "origin_region": asset.origin_region_id, "basin": asset.basin_id, "unit": asset.unit},
            "buyer": _org(trade.buyer), "seller": _org(trade.seller),
            "price": from_minor(trade.price, 2), "quantity": from_minor(trade.quantity, scale),
            "value": from_minor(trade.value, 2), "buyer_fee": from_minor(trade.buyer_fee, 2),
            "seller_fee": from_minor(trade.seller_fee, 2), "aggressor": trade.aggressor,
            "failure_reason": trade.failure_reason, "created_at": trade.created_at, "settled_at": trade.settled_at,
            "rule_version": trade.rule_version, "ledger_transaction": trade.ledger_transaction_id,
        },
        "events": [{"status": e.status, "detail": e.detail, "at": e.created_at} for e in trade.events.order_by("id")],
        "orders": {"buy": _order(trade.buy_order, scale), "sell": _order(trade.sell_order, scale)},
        "listing": None if listing is None else {
            "id": listing.id, "kind": listing.kind, "seller": listing.seller_id, "created_by": listing.created_by_id,
            "quantity": from_minor(listing.quantity, scale), "status": listing.status,
            "price": from_minor(listing.price, 2) if listing.price is not None else None,
            "rule_version": listing.rule_version, "created_at": listing.created_at},
        "bids": [{"id": b.id, "bidder": b.bidder_id, "user": b.user_id, "amount": from_minor(b.amount, 2),
                  "status": b.status, "rule_version": b.rule_version, "at": b.created_at} for b in bids],
        "rule_checks": {
            "checked_version": trade.rule_version,
            "order_versions": {k: o.rule_version for k, o in (("buy", trade.buy_order), ("sell", trade.sell_order))
                               if o is not None},
            "current_version": version, "current": [_refusal(r) for r in refusals],
        },
        "approval": None if request is None else {
            "id": request.id, "status": request.status, "rule_codes": request.rule_codes,
            "jurisdiction": request.jurisdiction, "required_approvals": request.required_approvals,
            "rules": request.rule_codes, "required": request.required_approvals,  # deprecated old names
            "pending_since": request.pending_since, "deadline": request.deadline, "notice_until": request.notice_until,
            "escalated_at": request.escalated_at, "decided_at": request.decided_at,
            "outcome_reason": request.outcome_reason,
            "decisions": [{"decision": d.decision, "user": d.user_id, "organization": d.organization_id,
                           "role": d.role, "reason": d.reason, "at": d.created_at} for d in request.decisions.all()]},
        "ledger": [_ledger(t, checkpoint) for t in txns],
        "audit": [{"id": a.id, "at": a.occurred_at, "action": a.action, "object_type": a.object_type,
                   "object_id": a.object_id, "actor_user": a.actor_user_id,
                   "actor_organization": a.actor_organization_id, "before": a.before, "after": a.after,
                   "request_id": a.request_id} for a in audit],
    }
