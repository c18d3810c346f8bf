"""Where rights may go: crossing county, city, zone (闽东北/闽西南) or provincial lines.

Rule kind: scope (S-SCOPE-001 denied, S-SCOPE-002 needs approval by the named jurisdiction).
"""
from __future__ import annotations

from core.checks import Refusal

from .engine import BaseRule, register_rule_code, rule
from .params import RuleParamsError, region_code

S_SCOPE_DENIED = register_rule_code("S-SCOPE-001", "{right_type} 不得跨{level}交易",
                                    "{right_type} rights may not cross {level} lines")
S_SCOPE_APPROVAL = register_rule_code("S-SCOPE-002", "{right_type} 跨{level}交易须经 {jurisdiction} 审批",
                                      "{right_type} rights crossing {level} lines need approval by {jurisdiction}")

LEVEL_NAMES_ZH = {"county": "县（区）", "city": "设区市", "zone": "协作区", "province": "省"}

LEVELS = ("county", "city", "zone", "province")
ACTIONS = ("allow", "approve", "deny")


@rule
class ScopeRule(BaseRule):
    """Which right types may cross county, city, zone (闽东北/闽西南 collaborative zones) or provincial
    lines, and which crossings need approval (e.g. Hubei: air pollutants stay within a city unless the
    province approves). Params: `county`/`city`/`zone`/`province`: "allow" | "approve" | "deny"
    (default allow). Crossing a zone also crosses a city, and so on: the strictest applicable action
    wins. `approver`: "province" | "origin_city" | "destination_city" | a region code; by default the
    smallest region containing both sides (the city for a county crossing, else the province)."""

    kind = "scope"
    code = S_SCOPE_DENIED
    codes = (S_SCOPE_DENIED, S_SCOPE_APPROVAL)

    def validate(self, params):
        out = {}
        for level in LEVELS:
            action = params.get(level, "allow")
            if action not in ACTIONS:
                raise RuleParamsError(level, f"one of {', '.join(ACTIONS)}")
            out[level] = action
        out["approver"] = region_code(params, "approver", keywords=("province", "origin_city", "destination_city"))
        return out

    def crossing(self, origin: str, destination: str) -> str | None:
        f = self.facts
        if f.covers(origin, destination) or f.covers(destination, origin):
            return None
        if origin[:2] != destination[:2]:
            return "province"
        if origin[:4] != destination[:4]:
            return "zone" if f.zone(origin) != f.zone(destination) else "city"
        return "county"

    def check(self, ctx):
        origin = self.origin_of(ctx)
        if ctx.buyer is None or not origin:
            return None
        level = self.crossing(origin, ctx.buyer.region_id)
        if level is None:
            return None
        crossed = LEVELS[: LEVELS.index(level) + 1]
        action = max((self.params[lv] for lv in crossed), key=ACTIONS.index)
        right_type = ctx.asset.right_type_id
        if action == "deny":
            return self.refuse(S_SCOPE_DENIED, right_type=right_type, level=level)
        if action == "approve":
            jurisdiction = self.approver(level, origin, ctx.buyer.region_id)
            return Refusal(code=S_SCOPE_APPROVAL, needs_approval=True, jurisdiction=jurisdiction,
                           message_params={"right_type": right_type, "level": level, "jurisdiction": jurisdiction},
                           rule_kind=self.kind, check=S_SCOPE_APPROVAL)
        return None

    def approver(self, level: str, origin: str, destination: str) -> str:
        choice = self.params["approver"]
        if choice == "province":
            return origin[:2] + "0000"
        if choice == "origin_city":
            return origin[:4] + "00"
        if choice == "destination_city":
            return destination[:4] + "00"
        if choice:
            return choice
        return origin[:4] + "00" if level == "county" else origin[:2] + "0000"

