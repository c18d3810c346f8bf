"""Prices: guided floors and ceilings (政府指导价) and the paid-use fee floor (有偿使用费).

Rule kind: guided_price (P-PRICE-001 below the floor, P-PRICE-002 above the ceiling, P-PRICE-003 below
the paid-use fee). The market's own tick and price band are fixed checks (`market.py`).
"""
from __future__ import annotations

from core.money import from_minor

from .engine import BaseRule, register_rule_code, rule
from .params import RuleParamsError, fen, region_code

# amounts a person reads are in yuan ({floor_yuan}); the params keep fen (floor, ceiling) for machines
P_BELOW_FLOOR = register_rule_code("P-PRICE-001", "价格低于指导价下限 {floor_yuan} 元",
                                   "The price is below the guided floor of {floor_yuan} yuan")
P_ABOVE_CEILING = register_rule_code("P-PRICE-002", "价格高于指导价上限 {ceiling_yuan} 元",
                                     "The price is above the guided ceiling of {ceiling_yuan} yuan")
P_BELOW_FEE = register_rule_code("P-PRICE-003", "价格低于有偿使用费 {floor_yuan} 元",
                                 "The price is below the paid-use fee of {floor_yuan} yuan")


@rule
class GuidedPriceRule(BaseRule):
    """Guided prices (政府指导价): a floor and/or ceiling in fen per whole unit for a right type (and
    optionally subtypes) whose instruments originate in `region` (default: anywhere) — farmland
    quotas' guided price, and emission rights' floor at the initial paid-use fee (有偿使用费; set
    `basis: "paid_use_fee"` to refuse with P-PRICE-003)."""

    kind = "guided_price"
    code = P_BELOW_FLOOR
    codes = (P_BELOW_FLOOR, P_ABOVE_CEILING, P_BELOW_FEE)

    def validate(self, params):
        floor, ceiling = fen(params, "floor"), fen(params, "ceiling")
        if floor is None and ceiling is None:
            raise RuleParamsError("floor", "a floor or a ceiling is required")
        if floor is not None and ceiling is not None and floor > ceiling:
            raise RuleParamsError("ceiling", "must not be below the floor")
        basis = params.get("basis", "guided")
        if basis not in ("guided", "paid_use_fee"):
            raise RuleParamsError("basis", "guided or paid_use_fee")
        return {"floor": floor, "ceiling": ceiling, "region": region_code(params, "region"), "basis": basis}

    def check(self, ctx):
        if ctx.price is None:
            return None
        p = self.params
        if p["region"] and not self.facts.covers(p["region"], ctx.asset.origin_region_id):
            return None
        if p["floor"] is not None and ctx.price < p["floor"]:
            return self.refuse(P_BELOW_FEE if p["basis"] == "paid_use_fee" else P_BELOW_FLOOR, floor=p["floor"],
                               floor_yuan=from_minor(p["floor"], 2))
        if p["ceiling"] is not None and ctx.price > p["ceiling"]:
            return self.refuse(P_ABOVE_CEILING, ceiling=p["ceiling"], ceiling_yuan=from_minor(p["ceiling"], 2))
        return None

