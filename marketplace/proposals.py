"""Markets without code, four-eyes: the operator proposes a market (or a new configuration of one) and a
second person of the operator confirms it, which applies it; or rejects it. Every step is audited in its
own transaction with the change.

The configuration (minor units inside: fen for prices and fees, the asset's minor unit for quantities):
`code`, `name_zh`, `name_en` (create only), `tick_size`, `lot_size`, `min_quantity`, `price_band_bps`,
`reference_price`, `fee_bps`, `fee_min`, `always_open`, `session_windows` ([start, end, weekdays]),
`settlement_mode`, `eod_cutoff`. The mechanism is the continuous order book (listings have their own).

The band protects the first session too: a market with a band must have a reference price, the
configured one, used until the first session closes (its VWAP then replaces it, as every close does)."""
from __future__ import annotations

from datetime import time

from django.db import transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from core.errors import DomainError, register
from ledger.models import Asset

from .models import Market, MarketProposal, ProposalStatus, SessionWindow, SettlementMode
from .services import market_create

FOUR_EYES = register("four_eyes_required", 403, "须由提议人以外的另一人复核",
                     "A second person must confirm what another proposed")
PROPOSAL_DECIDED = register("proposal_already_decided", 409, "该提议已处理", "This proposal has already been decided")
ASSET_HAS_MARKET = register("asset_has_market", 409, "该标的已有市场", "This instrument already has a market")

FIELDS = ("tick_size", "lot_size", "min_quantity", "price_band_bps", "reference_price", "fee_bps", "fee_min",
          "always_open", "session_windows", "settlement_mode", "eod_cutoff", "name_zh", "name_en")


def _region(asset: Asset) -> list[str]:
    return [asset.origin_region_id] if asset.origin_region_id else []


def _validate(asset: Asset, cfg: dict, market: Market | None) -> dict:
    """The effective configuration (the market's current one overlaid with `cfg`), or a DomainError."""
    current = {}
    if market is not None:
        current = {f: getattr(market, f) for f in FIELDS if f not in ("session_windows", "eod_cutoff")}
        current["eod_cutoff"] = market.eod_cutoff.isoformat() if market.eod_cutoff else None
        current["session_windows"] = [[w.start.isoformat(), w.end.isoformat(), w.weekdays]
                                      for w in market.session_windows.all()]
    eff = {"tick_size": 1, "price_band_bps": 1000, "reference_price": None, "fee_bps": 0, "fee_min": 0,
           "always_open": True, "session_windows": [], "settlement_mode": SettlementMode.REAL_TIME,
           "eod_cutoff": None, "name_zh": "", "name_en": "", **current, **cfg}
    if eff.get("min_quantity") is None and eff.get("lot_size") is not None:
        eff["min_quantity"] = eff["lot_size"]
    bad = {}
    lot = eff.get("lot_size")
    if not isinstance(lot, int) or lot <= 0 or lot % (10**asset.scale):
        bad["lot_size"] = "must be a positive whole number of units"
    if eff["tick_size"] <= 0:
        bad["tick_size"] = "must be positive"
    if eff["min_quantity"] is not None and eff["min_quantity"] <= 0:
        bad["min_quantity"] = "must be positive"
    band = eff["price_band_bps"]
    if band is not None and not 0 < band < 10_000:
        bad["price_band_bps"] = "between 1 and 9999 basis points, or none"
    if band is not None and eff["reference_price"] is None:
        bad["reference_price"] = "a market with a price band needs a reference price (it protects the first session)"
    if eff["reference_price"] is not None and (eff["reference_price"] <= 0
                                               or eff["reference_price"] % eff["tick_size"]):
        bad["reference_price"] = "must be positive and a multiple of the tick size"
    if not 0 <= eff["fee_bps"] <= 10_000 or eff["fee_min"] < 0:
        bad["fee_bps"] = "0..10000 basis points with a non-negative minimum"
    if eff["settlement_mode"] not in SettlementMode.values:
        bad["settlement_mode"] = f"one of {', '.join(SettlementMode.values)}"
    if eff["settlement_mode"] == SettlementMode.END_OF_DAY and not eff["eod_cutoff"]:
        bad["eod_cutoff"] = "end-of-day settlement needs a cut-off time"
    try:
        windows = [(time.fromisoformat(s), time.fromisoformat(e), w) for s, e, w in eff["session_windows"]]
        if any(e <= s or not w or not set(w) <= set("1234567") for s, e, w in windows):
            bad["session_windows"] = "each window must end after it starts, on ISO weekdays 1-7"
    except (TypeError, ValueError):
        bad["session_windows"] = "[start, end, weekdays] with times as HH:MM[:SS]"
    if not eff["always_open"] and not eff["session_windows"]:
        bad["session_windows"] = "a market that is not always open needs at least one session window"
    if market is None:
        code = eff.get("code") or ""
        if not code:
            bad["code"] = "required"
        elif Market.objects.filter(code=code).exists():
            bad["code"] = "already used"
    if bad:
        raise DomainError("validation_error", fields=bad)
    return eff


@transaction.atomic
def market_propose(*, actor: Actor, asset: Asset | None = None, market: Market | None = None,
                   config: dict, reason: str = "") -> MarketProposal:
    """Propose a new market on `asset` (market None) or a new configuration of `market`."""
    if market is not None:
        asset = market.asset
        config = {k: v for k, v in config.items() if k in FIELDS}
    elif Market.objects.filter(asset=asset).exists():
        raise DomainError(ASSET_HAS_MARKET, fields={"asset": "already traded in a market"})
    _validate(asset, config, market)
    proposal = MarketProposal.objects.create(
        kind=MarketProposal.Kind.UPDATE if market else MarketProposal.Kind.CREATE, market=market, asset=asset,
        config=config, proposed_by_id=actor.user_id, reason=reason)
    audit_record(actor=actor, action="market.propose", object_type="market_proposal", object_id=proposal.id,
                 after={"kind": proposal.kind, "asset": asset.code, "market": market.id if market else None,
                        "config": config}, region_codes=_region(asset))
    return proposal


def _apply_update(market: Market, eff: dict) -> Market:
    market = Market.objects.select_for_update().get(pk=market.pk)
    for f in FIELDS:
        if f == "session_windows":
            continue
        value = eff[f]
        if f == "eod_cutoff" and value:
            value = time.fromisoformat(value)
        setattr(market, f, value)
    market.save()
    SessionWindow.objects.filter(market=market).delete()
    for start, end, weekdays in eff["session_windows"]:
        SessionWindow.objects.create(market=market, start=start, end=end, weekdays=weekdays)
    return market


def market_proposal_confirm(*, actor: Actor, proposal_id: int) -> MarketProposal:
    """A second person confirms: the market is created or reconfigured, now. A refusal by the
    proposer is audited (outside the refused transaction)."""
    try:
        return _confirm(actor=actor, proposal_id=proposal_id)
    except DomainError as exc:
        if exc.code == FOUR_EYES:
            proposal = MarketProposal.objects.select_related("asset").get(pk=proposal_id)
            audit_record(actor=actor, action="market.confirm_refused", object_type="market_proposal",
                         object_id=proposal.id, after={"reason": FOUR_EYES}, region_codes=_region(proposal.asset))
        raise


@transaction.atomic
def _confirm(*, actor: Actor, proposal_id: int) -> MarketProposal:
    proposal = (MarketProposal.objects.select_for_update(of=("self",)).select_related("asset", "market")
                .get(pk=proposal_id))
    if proposal.status != ProposalStatus.PENDING:
        raise DomainError(PROPOSAL_DECIDED)
    if proposal.proposed_by_id == actor.user_id:
        raise DomainError(FOUR_EYES)
    eff = _validate(proposal.asset, proposal.config, proposal.market)  # again: the world may have moved
    if proposal.market is None:
        market = market_create(
            actor=actor, asset=proposal.asset, code=eff["code"], lot_size=eff["lot_size"],
            min_quantity=eff["min_quantity"], tick_size=eff["tick_size"], price_band_bps=eff["price_band_bps"],
            fee_bps=eff["fee_bps"], fee_min=eff["fee_min"], always_open=eff["always_open"],
            windows=[(time.fromisoformat(s), time.fromisoformat(e), w) for s, e, w in eff["session_windows"]],
            settlement_mode=eff["settlement_mode"],
            eod_cutoff=time.fromisoformat(eff["eod_cutoff"]) if eff["eod_cutoff"] else None,
            name_zh=eff["name_zh"], name_en=eff["name_en"], reference_price=eff["reference_price"])
    else:
        market = _apply_update(proposal.market, eff)
    proposal.market = market
    proposal.status = ProposalStatus.APPLIED
    proposal.decided_by_id = actor.user_id
    proposal.decided_at = timezone.now()
    proposal.save(update_fields=["market", "status", "decided_by", "decided_at"])
    audit_record(actor=actor, action="market.confirm", object_type="market_proposal", object_id=proposal.id,
                 after={"kind": proposal.kind, "market": market.id, "code": market.code,
                        "proposed_by": proposal.proposed_by_id, "config": proposal.config},
                 region_codes=_region(proposal.asset))
    return proposal


@transaction.atomic
def market_proposal_reject(*, actor: Actor, proposal_id: int, reason: str) -> MarketProposal:
    proposal = MarketProposal.objects.select_for_update(of=("self",)).select_related("asset").get(pk=proposal_id)
    if proposal.status != ProposalStatus.PENDING:
        raise DomainError(PROPOSAL_DECIDED)
    if proposal.proposed_by_id == actor.user_id:
        raise DomainError(FOUR_EYES)
    proposal.status = ProposalStatus.REJECTED
    proposal.decided_by_id = actor.user_id
    proposal.decided_at = timezone.now()
    proposal.reason = reason
    proposal.save(update_fields=["status", "decided_by", "decided_at", "reason"])
    audit_record(actor=actor, action="market.reject", object_type="market_proposal", object_id=proposal.id,
                 after={"reason": reason}, region_codes=_region(proposal.asset))
    return proposal
