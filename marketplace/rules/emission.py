"""Emission rights (排污权): no inflow into regions that miss their targets.

Rule kind: non_attainment_inflow (E-NATT-001). By default it applies to the right types whose subtype
names a pollutant (`RightType.pollutant_subtypes`), i.e. to emission rights. The discharge-permit
requirement is part of eligibility (`eligibility.py`, Q-ELIG-002).
"""
from __future__ import annotations

from django.utils import timezone

from .engine import BaseRule, register_rule_code, rule

E_NON_ATTAINMENT = register_rule_code(
    "E-NATT-001", "{region} 的 {pollutant} 未达标，不得买入该污染物排污权",
    "{region} misses its {pollutant} target: no emission rights of that pollutant may be bought into it")


@rule
class NonAttainmentInflowRule(BaseRule):
    """No pollution transfer into areas that miss their targets (防止跨区域污染转移; 未达标地区不得
    新增排放): emission rights of pollutant P (the instrument's subtype) may not be bought into a region
    flagged non-attainment for P in the period that contains the trade date (`NonAttainmentFlag`),
    unless the rights originate inside that same flagged region (no inflow)."""

    kind = "non_attainment_inflow"
    code = E_NON_ATTAINMENT
    default_policy = "pollutant_subtypes"

    def check(self, ctx):
        if ctx.buyer is None or not ctx.asset.subtype:
            return None
        on = timezone.localtime(ctx.at).date() if timezone.is_aware(ctx.at) else ctx.at.date()
        flagged = self.facts.non_attainment(ctx.asset.subtype, ctx.buyer.region_id, on)
        if flagged is None:
            return None
        if self.facts.covers(flagged, self.origin_of(ctx)):
            return None  # rights from inside the flagged region: no inflow
        return self.refuse(E_NON_ATTAINMENT, region=flagged, pollutant=ctx.asset.subtype)

