"""Water rights (水权): basins, allowed inter-basin transfers, public notice before settlement.

Rule kinds and codes: basin (W-BASIN-001), inter_basin_transfer (W-BASIN-002, approval), public_notice
(W-NOTICE-001, a hold). By default they apply to the basin-bound right types (`RightType.basin_bound`;
the public notice to those with `notice_period_days`), i.e. to water rights.
"""
from __future__ import annotations

from core.checks import Refusal

from .engine import ALL_STAGES, TRADE_STAGES, BaseRule, register_rule_code, rule
from .params import RuleParamsError, region_code

W_BASIN = register_rule_code("W-BASIN-001", "水权只能在同一流域内交易（{origin} → {destination}）",
                             "Water rights trade only within a basin ({origin} → {destination})")
W_INTER_BASIN = register_rule_code("W-BASIN-002", "跨流域调水交易（{origin} → {destination}）需经审批",
                                   "This inter-basin transfer ({origin} → {destination}) needs approval")
W_NOTICE = register_rule_code("W-NOTICE-001", "水权交易须经 {days} 日公示后方可交收",
                              "Water-rights trades settle after a public notice of {days} days")
DEFAULT_NOTICE_DAYS = 5  # for a right type named explicitly that has no notice period of its own


@rule
class InterBasinTransferRule(BaseRule):
    """An inter-basin water transfer the authorities allow (跨流域调水): water rights may move from
    `from_basin` to `to_basin` (and back when `bidirectional`), with approval by the region `approver`
    when `needs_approval` (default true; the province when no approver is named). Consulted by the
    basin rule; on its own it refuses nothing."""

    kind = "inter_basin_transfer"
    code = W_INTER_BASIN
    stages = ALL_STAGES
    default_policy = "basin_bound"

    def validate(self, params):
        for key in ("from_basin", "to_basin"):
            if not isinstance(params.get(key), str) or not params[key]:
                raise RuleParamsError(key, "a basin code")
        region_code(params, "approver")
        return {"from_basin": params["from_basin"], "to_basin": params["to_basin"],
                "bidirectional": bool(params.get("bidirectional", False)),
                "needs_approval": bool(params.get("needs_approval", True)), "approver": params.get("approver")}

    def allows(self, source: str, destination: str) -> bool:
        p = self.params
        return (p["from_basin"], p["to_basin"]) == (source, destination) or (
            p["bidirectional"] and (p["to_basin"], p["from_basin"]) == (source, destination))

    def check(self, ctx):
        return None


@rule
class BasinRule(BaseRule):
    """Water stays within its basin (水权交易限于同一流域): water rights trade only between regions that
    share a basin — the instrument's basin (or the seller's / origin region's basins) against the
    buyer's region's basins — unless an `inter_basin_transfer` rule of the same version allows the
    move (possibly subject to approval)."""

    kind = "basin"
    code = W_BASIN
    codes = (W_BASIN, W_INTER_BASIN)
    default_policy = "basin_bound"
    transfers: list[InterBasinTransferRule]

    def bind(self, rules):
        self.transfers = [r for r in rules if isinstance(r, InterBasinTransferRule)]

    def check(self, ctx):
        if ctx.buyer is None:
            return None
        f = self.facts
        destination = f.basins(ctx.buyer.region_id)
        if ctx.asset.basin_id:
            source = frozenset({ctx.asset.basin_id})
        else:
            source = f.basins(ctx.seller.region_id if ctx.seller is not None else ctx.asset.origin_region_id)
        if not source or source & destination:
            return None
        for s in sorted(source):
            for d in sorted(destination):
                for t in getattr(self, "transfers", ()):
                    if t.allows(s, d):
                        if not t.params["needs_approval"]:
                            return None
                        origin = self.origin_of(ctx) or "350000"
                        return Refusal(code=W_INTER_BASIN, message_params={"origin": s, "destination": d},
                                       needs_approval=True,
                                       jurisdiction=t.params["approver"] or origin[:2] + "0000",
                                       rule_kind=t.kind)
        return self.refuse(W_BASIN, origin=",".join(sorted(source)), destination=",".join(sorted(destination)) or "-")


@rule
class PublicNoticeRule(BaseRule):
    """Public notice before settlement (水权交易公示): a water-rights trade waits `days` days
    (`working_days`: counted in working days) between the match and settlement; during that time a
    regulator may object, which rejects the trade. The trade is held PENDING_APPROVAL by this rule
    and released by the oversight workflow when the notice ends without objection. Without `days`,
    the right type's own notice period (`RightType.notice_period_days`) applies."""

    kind = "public_notice"
    code = W_NOTICE
    stages = TRADE_STAGES
    default_policy = "notice_period_days"

    def validate(self, params):
        days = params.get("days")
        if days is not None and (not isinstance(days, int) or isinstance(days, bool) or not 0 < days <= 60):
            raise RuleParamsError("days", "an integer between 1 and 60")
        return {"days": days, "working_days": bool(params.get("working_days", False))}

    def check(self, ctx):
        days = self.params["days"] or self.facts.policy(ctx.asset.right_type_id).notice_period_days \
            or DEFAULT_NOTICE_DAYS
        return Refusal(code=W_NOTICE, message_params={"days": days}, needs_approval=True,
                       notice_days=days, notice_working_days=self.params["working_days"],
                       rule_kind=self.kind, check=W_NOTICE)
