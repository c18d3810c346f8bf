"""The rulebook's checks, and the market's fixed checks beside them. Each rule is a small class with a
stable code, the policy it encodes in its docstring, and a pure `check(ctx) -> Refusal | None`. Which
rules apply, with which parameters, is data (`RulebookVersion` / `Rule`); `RULES` maps a rule kind to
its class — the one list of them. Every code is also a number of the one family of business checks
(`core.checks.CHECKS`), beside the fixed checks of the market (`market.py`), the parties
(`eligibility.py`), the ledger (`ledger.checks`) and listings (`trading.listings.checks`).

Modules: `engine` (context, `BaseRule`, registry, compiling and caching, `evaluate`/`enforce`),
`facts` (geography, flags, permits, right-type policy), `params` (parameter parsing), and one module
per subject: `water`, `emission`, `scope`, `price`, `limits`, `eligibility`, `market`.

`evaluate(ctx)` runs every enabled rule of the rulebook version in force and returns the first refusal
(or an approval requirement); `enforce(ctx)` does the same and raises `core.checks.Refused` on a
refusal that does not merely need approval — the one adapter every caller uses. It is called before an
order, bid or listing is accepted (the counterparty unknown) and again for the trade (both parties
known) at match and at settlement.

Rule kinds and their codes (registered in `core.errors.CODES`, HTTP 422):
  basin                  W-BASIN-001  water rights leave the basin (no allowed inter-basin transfer)
  inter_basin_transfer   W-BASIN-002  an allowed inter-basin transfer that needs approval
  public_notice          W-NOTICE-001 the trade waits out a public-notice period (公示) before settlement
  non_attainment_inflow  E-NATT-001   emission rights bought into a region flagged non-attainment
  scope                  S-SCOPE-001  the right type may not cross this line (county/city/zone/province)
                         S-SCOPE-002  crossing this line needs approval by the named jurisdiction
  guided_price           P-PRICE-001  below the guided floor   P-PRICE-002 above the guided ceiling
                         P-PRICE-003  below the paid-use fee (a floor with basis "paid_use_fee")
  holding_limit          H-LIMIT-001  the buyer would hold more of the instrument than allowed
  lot_limit              L-LOT-001    lot below the minimum   L-LOT-002 lot above the maximum
  eligibility            Q-ELIG-001   the buyer's kind may not buy this right type
                         Q-ELIG-002   no valid discharge permit on file (emission rights)
                         Q-ELIG-003   a party is suspended
  surrender_vintage      V-VINT-001   a vintage too old for the compliance year (banking limit)
                         V-VINT-002   a later vintage (borrowing)   V-VINT-003 no vintage
                         (stage `surrender` only: compliance surrender, `compliance.services`)

Where a movement is meant (basin, scope, non-attainment), it runs from the instrument's origin region
(`asset.origin_region`; the seller's region when an asset has none) to the buyer's region: rights are
used where the buyer is. Regions compare by the GB/T 2260 code structure (`Region.covers`).

Performance: `evaluate` sits on the order-placement hot path. The compiled rulebook — every version
with its rule objects, the region geography (zones, basins), the non-attainment flags, and discharge
permits looked up per organization — is cached in-process and keyed by a *generation* number: one
row, bumped (from a sequence, so a value is never reused) by statement triggers on the rulebook tables
in the same transaction as the change. Each call costs one primary-key read of that row, nothing
else, unless a holding limit applies (one balance read) or a permit is looked up for the first time.
A rolled-back change rolls the row back too, so the cache can never serve rules that did not commit.
The compiled state is also rebuilt at least every `MAX_AGE` seconds (region reference data). Right-type
policy (`RightType` rows) bumps the generation too: a rule kind's default right types (`default_policy`,
e.g. the basin-bound ones) and defaults such as the permit requirement come from those rows.
"""
from __future__ import annotations

from core.checks import Refusal, Refused

from . import eligibility, emission, limits, market, price, scope, vintage, water
from .eligibility import (
    Q_KIND,
    Q_PERMIT,
    Q_SUSPENDED,
    TRADING_KINDS,
    EligibilityRule,
    OrganizationActive,
    OrganizationMayTrade,
)
from .emission import E_NON_ATTAINMENT, NonAttainmentInflowRule
from .engine import (
    ALL_STAGES,
    GENERATION_SQL,
    GENERATION_TABLE,
    MAX_AGE,
    RULES,
    TRADE_STAGES,
    BaseRule,
    CheckContext,
    Compiled,
    CompiledBook,
    compiled,
    enforce,
    evaluate,
    evaluate_all,
    invalidate,
    register_rule_code,
    rule,
    rule_kinds,
    rulebook_in_force,
    validate_rule,
)
from .facts import Facts, RightTypePolicy, load_facts
from .limits import H_LIMIT, L_LOT_MAX, L_LOT_MIN, HoldingLimitRule, LotLimitRule, ledger_holdings
from .market import ORDER_CHECKS, price_band
from .params import RuleParamsError
from .price import P_ABOVE_CEILING, P_BELOW_FEE, P_BELOW_FLOOR, GuidedPriceRule
from .scope import ACTIONS, LEVEL_NAMES_ZH, LEVELS, S_SCOPE_APPROVAL, S_SCOPE_DENIED, ScopeRule
from .vintage import SURRENDER_STAGE, V_FUTURE, V_NO_VINTAGE, V_TOO_OLD, SurrenderVintageRule
from .water import W_BASIN, W_INTER_BASIN, W_NOTICE, BasinRule, InterBasinTransferRule, PublicNoticeRule

__all__ = [
    "SURRENDER_STAGE", "V_FUTURE", "V_NO_VINTAGE", "V_TOO_OLD", "SurrenderVintageRule",
    "ACTIONS", "ALL_STAGES", "E_NON_ATTAINMENT", "GENERATION_SQL", "GENERATION_TABLE", "H_LIMIT", "LEVELS",
    "LEVEL_NAMES_ZH", "L_LOT_MAX", "L_LOT_MIN", "MAX_AGE", "ORDER_CHECKS", "P_ABOVE_CEILING", "P_BELOW_FEE",
    "P_BELOW_FLOOR", "Q_KIND", "Q_PERMIT", "Q_SUSPENDED", "RULES", "S_SCOPE_APPROVAL", "S_SCOPE_DENIED",
    "TRADE_STAGES", "TRADING_KINDS", "W_BASIN", "W_INTER_BASIN", "W_NOTICE",
    "BaseRule", "BasinRule", "CheckContext", "Compiled", "CompiledBook", "EligibilityRule", "Facts",
    "GuidedPriceRule", "HoldingLimitRule", "InterBasinTransferRule", "LotLimitRule", "NonAttainmentInflowRule",
    "OrganizationActive", "OrganizationMayTrade", "PublicNoticeRule", "Refusal", "Refused", "RightTypePolicy",
    "RuleParamsError", "ScopeRule",
    "compiled", "eligibility", "emission", "enforce", "evaluate", "evaluate_all", "invalidate", "ledger_holdings",
    "limits", "load_facts", "market", "price", "price_band", "register_rule_code", "rule", "rule_kinds",
    "rulebook_in_force", "scope", "validate_rule", "vintage", "water",
]
