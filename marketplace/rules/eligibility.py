"""Who may trade: the eligibility rule (configurable) and the fixed party checks.

Rule kind: eligibility (Q-ELIG-001 buyer kind, Q-ELIG-002 discharge permit, Q-ELIG-003 a party is
suspended). The permit requirement defaults to the right type's `RightType.permit_required`.
Fixed checks (numbered in the same family, answering with their historical API codes):
  Q-ACTIVE-001  organization_suspended  the acting organization is suspended
  Q-TRADER-001  not_a_trader            the organization's kind may not trade
"""
from __future__ import annotations

from django.utils import timezone

from accounts.models import TRADING_KINDS
from core.checks import BusinessCheck, business_check

from ..errors import NOT_A_TRADER, ORGANIZATION_SUSPENDED
from .engine import BaseRule, register_rule_code, rule
from .params import str_list

Q_KIND = register_rule_code("Q-ELIG-001", "该类机构不得买入此类权益",
                            "This kind of organization may not buy these rights")
Q_PERMIT = register_rule_code("Q-ELIG-002", "买方没有有效的排污许可证",
                              "The buyer has no valid discharge permit on file")
Q_SUSPENDED = register_rule_code("Q-ELIG-003", "交易方已被暂停", "A party to the trade is suspended")



@business_check
class OrganizationActive(BusinessCheck):
    """A suspended organization may not place orders, list, bid, buy or accept (its members can still
    read)."""

    number = "Q-ACTIVE-001"
    code = ORGANIZATION_SUSPENDED
    subject = "party"

    @classmethod
    def check(cls, *, organization, **_):
        return None if organization.is_active else cls.refuse()


@business_check
class OrganizationMayTrade(BusinessCheck):
    """Only enterprises and government bodies that hold or need rights trade (`TRADING_KINDS`);
    regulators and the exchange operator do not."""

    number = "Q-TRADER-001"
    code = NOT_A_TRADER
    subject = "party"

    @classmethod
    def check(cls, *, organization, **_):
        return None if organization.kind in TRADING_KINDS else cls.refuse()


@rule
class EligibilityRule(BaseRule):
    """Who may buy (交易主体资格): `buyer_kinds` lists the organization kinds that may buy the right type
    (default: any); `require_permit` (default: the right type's `permit_required`, true for emission
    rights) requires the buyer to have a discharge permit on file (排污许可证: the organization's
    permit number, or a `DischargePermit` valid on the trade date and covering the pollutant);
    `require_active` (default true) refuses any party that is suspended — at
    settlement too, so freezing a participant stops its pending trades."""

    kind = "eligibility"
    code = Q_KIND
    codes = (Q_KIND, Q_PERMIT, Q_SUSPENDED)

    def validate(self, params):
        return {"buyer_kinds": str_list(params, "buyer_kinds"),
                "require_permit": params.get("require_permit"),
                "require_active": bool(params.get("require_active", True))}

    def check(self, ctx):
        p = self.params
        if p["require_active"]:
            for party in (ctx.buyer, ctx.seller):
                if party is not None and not party.is_active:
                    return self.refuse(Q_SUSPENDED)
        buyer = ctx.buyer
        if buyer is None:
            return None
        if p["buyer_kinds"] is not None and buyer.kind not in p["buyer_kinds"]:
            return self.refuse(Q_KIND)
        require_permit = p["require_permit"]
        if require_permit is None:
            require_permit = self.facts.policy(ctx.asset.right_type_id).permit_required
        if require_permit and buyer.kind == "enterprise":
            on = timezone.localtime(ctx.at).date() if timezone.is_aware(ctx.at) else ctx.at.date()
            if not self.facts.has_permit(buyer, ctx.asset.subtype or "", on):
                return self.refuse(Q_PERMIT)
        return None
