"""Vintages in compliance surrender (清缴): which vintages of an allowance may be surrendered for a
compliance year, and so which may be banked (kept for a later year) or borrowed (used for an earlier one).

Rule kind: surrender_vintage (V-VINT-001 too old, V-VINT-002 a later vintage, V-VINT-003 no vintage).
It runs only at the `surrender` stage (`compliance.services.surrender_create` builds the context with
`compliance_year`); order, listing, bid, trade and settlement checks never see it. Without such a rule in
the rulebook in force, any vintage may be surrendered for any year (the fixed compliance checks still
require the right type, subtype and unit of the year's allowances).
"""
from __future__ import annotations

from .engine import BaseRule, register_rule_code, rule
from .params import RuleParamsError

V_TOO_OLD = register_rule_code(
    "V-VINT-001", "{vintage} 年度配额不得用于 {year} 年度清缴（至多可使用早 {max_age} 年的配额）",
    "Allowances of vintage {vintage} may not be surrendered for {year} (at most {max_age} years older)")
V_FUTURE = register_rule_code(
    "V-VINT-002", "{vintage} 年度配额晚于 {year} 年度，不得预支清缴",
    "Allowances of vintage {vintage} are of a later year than {year} and may not be borrowed for it")
V_NO_VINTAGE = register_rule_code(
    "V-VINT-003", "该配额未标明年度，不得用于清缴", "Allowances without a vintage may not be surrendered")

SURRENDER_STAGE = "surrender"


def _years(params: dict, key: str) -> int:
    value = params.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 50:
        raise RuleParamsError(key, "a whole number of years from 0 to 50")
    return value


@rule
class SurrenderVintageRule(BaseRule):
    """Vintage rule of compliance surrender (清缴): an allowance of vintage v may be surrendered for
    compliance year y only if y - max_age_years <= v <= y + borrow_years. max_age_years (default 0) is
    banking: how many years an allowance stays usable after its own year (0: only the year's own
    allowances); borrow_years (default 0) lets a later vintage be used (预支). An allowance without a
    vintage is refused where the rule applies."""

    kind = "surrender_vintage"
    code = V_TOO_OLD
    codes = (V_TOO_OLD, V_FUTURE, V_NO_VINTAGE)
    stages = (SURRENDER_STAGE,)

    def __init__(self, params: dict, facts=None):
        super().__init__(params, facts)
        self.stages = (SURRENDER_STAGE,)  # never at a trading stage, whatever `stages` says

    def validate(self, params):
        return {"max_age_years": _years(params, "max_age_years"), "borrow_years": _years(params, "borrow_years")}

    def check(self, ctx):
        year = ctx.compliance_year
        if year is None:
            return None
        vintage = ctx.asset.vintage
        if vintage is None:
            return self.refuse(V_NO_VINTAGE)
        if vintage < year - self.params["max_age_years"]:
            return self.refuse(V_TOO_OLD, vintage=vintage, year=year, max_age=self.params["max_age_years"])
        if vintage > year + self.params["borrow_years"]:
            return self.refuse(V_FUTURE, vintage=vintage, year=year)
        return None
