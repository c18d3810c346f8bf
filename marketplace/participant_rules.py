"""What a participant may read about the rules (issue 16 item 6): the rules in force for one market (the
rulebook version in force now, only the rules that apply to the market's instrument) and the acting
organization's own standing under them — the checks an order would meet before any price or quantity
is known (eligibility, permits, suspension). Regulators keep the whole rulebook (`oversight`)."""
from __future__ import annotations

from django.utils import timezone

from core.errors import message_for

from .rules import CheckContext, compiled, evaluate_all, ledger_holdings


def _applies_to(rule, asset) -> bool:
    if rule.right_types is not None and asset.right_type_id not in rule.right_types:
        return False
    return rule.subtypes is None or (asset.subtype or "").upper() in rule.subtypes


def market_rules(market, *, at=None) -> dict:
    at = at or timezone.now()
    book = compiled().book_at(at)
    if book is None:
        return {"market": market.id, "rulebook_version": None, "effective_from": None, "rules": []}
    asset = market.asset
    return {
        "market": market.id, "rulebook_version": book.version, "effective_from": book.effective_from,
        "rules": [{"kind": r.kind, "codes": list(r.codes or (r.code,)), "stages": list(r.stages),
                   "params": r.raw_params, "policy": " ".join((type(r).__doc__ or "").split())}
                  for r in book.rules_for(asset.right_type_id) if _applies_to(r, asset)],
    }


def _side(market, organization, *, as_buyer: bool, at) -> dict:
    ctx = CheckContext(stage="order", asset=market.asset, at=at, buyer=organization if as_buyer else None,
                       seller=None if as_buyer else organization, holdings=ledger_holdings)
    _version, refusals = evaluate_all(ctx)
    return {
        "eligible": not any(not r.needs_approval for r in refusals),
        "findings": [{"code": r.code, "kind": r.rule_kind, "needs_approval": r.needs_approval,
                      "message": message_for(r.code, **r.message_params)} for r in refusals],
    }


def market_eligibility(market, organization, *, at=None) -> dict:
    """May `organization` buy / sell on `market` as far as the rules can tell before an order's price and
    quantity are known? Findings carry the code and message an order would be refused with."""
    at = at or timezone.now()
    book = compiled().book_at(at)
    return {"market": market.id, "organization": organization.id,
            "rulebook_version": book.version if book else None,
            "as_buyer": _side(market, organization, as_buyer=True, at=at),
            "as_seller": _side(market, organization, as_buyer=False, at=at)}
