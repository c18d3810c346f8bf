"""Quantities: holding limits per organization and instrument, lot limits per listing.

Rule kinds: holding_limit (H-LIMIT-001), lot_limit (L-LOT-001 below the minimum, L-LOT-002 above the
maximum). The market's own lot size and minimum quantity are fixed checks (`market.py`).
"""
from __future__ import annotations

from accounts.models import Organization
from ledger.models import Account

from .engine import BaseRule, register_rule_code, rule
from .params import RuleParamsError, str_list, units, units_str

H_LIMIT = register_rule_code("H-LIMIT-001", "持有量将超过上限 {limit} {unit}",
                             "The holding would exceed the limit of {limit} {unit}")
L_LOT_MIN = register_rule_code("L-LOT-001", "单笔挂牌数量低于下限 {minimum} {unit}",
                               "The lot is below the minimum of {minimum} {unit}")
L_LOT_MAX = register_rule_code("L-LOT-002", "单笔挂牌数量高于上限 {maximum} {unit}",
                               "The lot is above the maximum of {maximum} {unit}")


def ledger_holdings(organization: Organization, asset) -> int:
    """An organization's participant balance of an instrument (available + held: what it owns)."""
    row = (Account.objects.filter(organization_id=organization.id, asset_id=asset.id, kind="participant")
           .values_list("available", "held").first())
    return sum(row) if row else 0


@rule
class HoldingLimitRule(BaseRule):
    """Holding limits per enterprise and instrument (持有量上限, cf. California's holding limits): after
    buying, an organization may hold at most `max_units` whole units of one instrument. Optional
    `organization_kinds` limits the rule to buyers of those kinds (e.g. only enterprises)."""

    kind = "holding_limit"
    code = H_LIMIT
    stages = ("order", "bid", "trade", "settlement")

    def validate(self, params):
        maximum = units(params, "max_units")
        if maximum is None:
            raise RuleParamsError("max_units", "required")
        return {"max_units": maximum, "organization_kinds": str_list(params, "organization_kinds")}

    def check(self, ctx):
        if ctx.buyer is None or ctx.quantity is None:
            return None
        kinds = self.params["organization_kinds"]
        if kinds is not None and ctx.buyer.kind not in kinds:
            return None
        limit = int(self.params["max_units"].scaleb(ctx.asset.scale))
        held = (ctx.holdings or ledger_holdings)(ctx.buyer, ctx.asset)
        if held + ctx.quantity > limit:
            return self.refuse(H_LIMIT, limit=str(self.params["max_units"]), unit=ctx.asset.unit,
                               after=units_str(held + ctx.quantity, ctx.asset.scale))
        return None


@rule
class LotLimitRule(BaseRule):
    """Lot limits per listing (单笔挂牌数量): a listing offers at least `min_units` and at most
    `max_units` whole units (either optional). Applies to listings; add "order" or "bid" to `stages`
    to limit those too."""

    kind = "lot_limit"
    code = L_LOT_MIN
    codes = (L_LOT_MIN, L_LOT_MAX)
    stages = ("listing",)

    def validate(self, params):
        lo, hi = units(params, "min_units"), units(params, "max_units")
        if lo is None and hi is None:
            raise RuleParamsError("max_units", "a minimum or a maximum is required")
        if lo is not None and hi is not None and lo > hi:
            raise RuleParamsError("max_units", "must not be below the minimum")
        return {"min_units": lo, "max_units": hi}

    def check(self, ctx):
        if ctx.quantity is None:
            return None
        lo, hi = self.params["min_units"], self.params["max_units"]
        scale = ctx.asset.scale
        if lo is not None and ctx.quantity < lo.scaleb(scale):
            return self.refuse(L_LOT_MIN, minimum=str(lo), unit=ctx.asset.unit)
        if hi is not None and ctx.quantity > hi.scaleb(scale):
            return self.refuse(L_LOT_MAX, maximum=str(hi), unit=ctx.asset.unit)
        return None

