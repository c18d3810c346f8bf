"""The rulebook's checks. Each rule is a small class with a stable code, the policy it encodes in its
docstring, and a pure `check(ctx) -> Refusal | None`. Which rules apply, with which parameters, is
data (`RulebookVersion` / `Rule`); `RULES` maps a rule kind to its class — the one list of them.

`evaluate(ctx)` runs every enabled rule of the rulebook version in force and returns the first refusal
(or an approval requirement). It is called before an order, bid or listing is accepted (the
counterparty unknown) and again for the trade (both parties known) at match and at settlement.

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
The compiled state is also rebuilt at least every `MAX_AGE` seconds (region reference data).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.db import connection
from django.utils import timezone

from accounts.models import Organization, Region
from core.errors import register
from core.money import from_minor
from ledger.models import Account

from .models import DischargePermit, NonAttainmentFlag, RulebookVersion

ALL_STAGES = ("order", "listing", "bid", "trade", "settlement")
TRADE_STAGES = ("trade", "settlement")
GENERATION_TABLE = "marketplace_rules_generation"
MAX_AGE = 60.0


@dataclass(frozen=True)
class Refusal:
    code: str
    message_params: dict = field(default_factory=dict)
    needs_approval: bool = False
    jurisdiction: str | None = None  # region code of the regulator who must approve
    notice_days: int | None = None  # a public-notice hold (公示): wait this long, objections possible
    notice_working_days: bool = False
    rule_kind: str = ""


@dataclass
class CheckContext:
    stage: str  # "order" | "listing" | "bid" | "trade" | "settlement"
    asset: object  # ledger.models.Asset
    at: datetime
    buyer: Organization | None = None
    seller: Organization | None = None
    price: int | None = None
    quantity: int | None = None
    holdings: callable = None  # (organization, asset) -> current participant balance, for limits
    # the rulebook generation when the caller already read it in this transaction (GENERATION_SQL as a
    # column of its own statement), saving the round trip that checks the compiled rulebook is current
    rules_generation: object = None


def register_rule_code(code: str, zh: str, en: str, status: int = 422) -> str:
    return register(code, status, zh, en)


# --- codes ------------------------------------------------------------------------------------------

W_BASIN = register_rule_code("W-BASIN-001", "水权只能在同一流域内交易（{origin} → {destination}）",
                             "Water rights trade only within a basin ({origin} → {destination})")
W_INTER_BASIN = register_rule_code("W-BASIN-002", "跨流域调水交易（{origin} → {destination}）需经审批",
                                   "This inter-basin transfer ({origin} → {destination}) needs approval")
W_NOTICE = register_rule_code("W-NOTICE-001", "水权交易须经 {days} 日公示后方可交收",
                              "Water-rights trades settle after a public notice of {days} days")
E_NON_ATTAINMENT = register_rule_code(
    "E-NATT-001", "{region} 的 {pollutant} 未达标，不得买入该污染物排污权",
    "{region} misses its {pollutant} target: no emission rights of that pollutant may be bought into it")
S_SCOPE_DENIED = register_rule_code("S-SCOPE-001", "{right_type} 不得跨{level}交易",
                                    "{right_type} rights may not cross {level} lines")
S_SCOPE_APPROVAL = register_rule_code("S-SCOPE-002", "{right_type} 跨{level}交易须经 {jurisdiction} 审批",
                                      "{right_type} rights crossing {level} lines need approval by {jurisdiction}")
# amounts a person reads are in the asset's unit: prices in yuan ({floor_yuan}), quantities in the
# instrument's unit; the params keep the minor units (floor, ceiling) for machines (dossiers)
P_BELOW_FLOOR = register_rule_code("P-PRICE-001", "价格低于指导价下限 {floor_yuan} 元",
                                   "The price is below the guided floor of {floor_yuan} yuan")
P_ABOVE_CEILING = register_rule_code("P-PRICE-002", "价格高于指导价上限 {ceiling_yuan} 元",
                                     "The price is above the guided ceiling of {ceiling_yuan} yuan")
P_BELOW_FEE = register_rule_code("P-PRICE-003", "价格低于有偿使用费 {floor_yuan} 元",
                                 "The price is below the paid-use fee of {floor_yuan} yuan")
H_LIMIT = register_rule_code("H-LIMIT-001", "持有量将超过上限 {limit} {unit}",
                             "The holding would exceed the limit of {limit} {unit}")
L_LOT_MIN = register_rule_code("L-LOT-001", "单笔挂牌数量低于下限 {minimum} {unit}",
                               "The lot is below the minimum of {minimum} {unit}")
L_LOT_MAX = register_rule_code("L-LOT-002", "单笔挂牌数量高于上限 {maximum} {unit}",
                               "The lot is above the maximum of {maximum} {unit}")
Q_KIND = register_rule_code("Q-ELIG-001", "该类机构不得买入此类权益",
                            "This kind of organization may not buy these rights")
Q_PERMIT = register_rule_code("Q-ELIG-002", "买方没有有效的排污许可证",
                              "The buyer has no valid discharge permit on file")
Q_SUSPENDED = register_rule_code("Q-ELIG-003", "交易方已被暂停", "A party to the trade is suspended")

LEVEL_NAMES_ZH = {"county": "县（区）", "city": "设区市", "zone": "协作区", "province": "省"}


class RuleParamsError(ValueError):
    """Invalid parameters for a rule kind (the rulebook API turns it into a 400 with the field)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


# --- compiled reference data ------------------------------------------------------------------------

class Facts:
    """What checks need to know besides the context: region geography, non-attainment flags and
    discharge permits. Built once per rulebook generation; permits are looked up lazily per
    organization and kept for the generation's lifetime."""

    def __init__(self, regions: dict[str, tuple[str, str, str | None]], basins: dict[str, set[str]],
                 flags: list[tuple[str, str, date, date]]):
        self.regions = regions  # code -> (level, zone, parent)
        self._own_basins = basins
        self._basins: dict[str, frozenset[str]] = {}
        self.flags: dict[str, list[tuple[str, date, date, str]]] = {}
        for region, pollutant, start, end in flags:
            self.flags.setdefault(pollutant.upper(), []).append((self.prefix(region), start, end, region))
        self._permits: dict[int, list[tuple[list, date | None]]] = {}

    def level(self, code: str | None) -> str | None:
        info = self.regions.get(code or "")
        return info[0] if info else None

    def prefix(self, code: str) -> str:
        level = self.level(code)
        return {"province": code[:2], "city": code[:4]}.get(level or "", code)

    def covers(self, region: str | None, code: str | None) -> bool:
        return bool(region) and bool(code) and code.startswith(self.prefix(region))

    def zone(self, code: str) -> str:
        info = self.regions.get(code)
        if info and info[1]:
            return info[1]
        city = code[:4] + "00"
        info = self.regions.get(city)
        return info[1] if info else ""

    def basins(self, code: str | None) -> frozenset[str]:
        """A county's basins; for a city or the province, every basin of the counties it contains."""
        if not code:
            return frozenset()
        if code not in self._basins:
            own = set(self._own_basins.get(code, ()))
            if self.level(code) in ("city", "province"):
                p = self.prefix(code)
                for c, bs in self._own_basins.items():
                    if c.startswith(p):
                        own |= bs
            self._basins[code] = frozenset(own)
        return self._basins[code]

    def non_attainment(self, pollutant: str, code: str | None, on: date) -> str | None:
        """The flagged region covering `code` for `pollutant` on `on`, or None."""
        if not code:
            return None
        for prefix, start, end, region in self.flags.get(pollutant.upper(), ()):
            if start <= on <= end and code.startswith(prefix):
                return region
        return None

    def permits(self, organization_id: int) -> list[tuple[list, date | None]]:
        if organization_id not in self._permits:
            self._permits[organization_id] = [
                (list(p or []), valid_to) for p, valid_to in
                DischargePermit.objects.filter(organization_id=organization_id).values_list("pollutants", "valid_to")
            ]
        return self._permits[organization_id]

    def has_permit(self, org: Organization, pollutant: str, on: date) -> bool:
        if org.discharge_permit_no:
            return True
        for pollutants, valid_to in self.permits(org.id):
            if (not pollutants or pollutant.upper() in {p.upper() for p in pollutants}) and (
                    valid_to is None or valid_to >= on):
                return True
        return False


# --- the rule framework ------------------------------------------------------------------------------

def _list(params: dict, key: str, default=None) -> list | None:
    value = params.get(key, default)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise RuleParamsError(key, "a string or a list of strings")
    return list(value)


def _units(params: dict, key: str) -> Decimal | None:
    value = params.get(key)
    if value is None:
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise RuleParamsError(key, "a decimal number of whole units")
    if not d.is_finite() or d < 0:
        raise RuleParamsError(key, "a non-negative number of whole units")
    return d


def _fen(params: dict, key: str) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RuleParamsError(key, "a non-negative integer amount in fen")
    return value


def _region_code(params: dict, key: str, *, keywords=()) -> str | None:
    value = params.get(key)
    if value is None or value in keywords:
        return value
    if not (isinstance(value, str) and len(value) == 6 and value.isascii() and value.isdigit()):
        raise RuleParamsError(key, "a 6-digit region code" + (f" or one of {', '.join(keywords)}" if keywords else ""))
    return value


def _units_str(minor: int, scale: int) -> str:
    return str(Decimal(minor).scaleb(-scale).normalize())


class BaseRule:
    """A rule of one kind with its parameters. Common parameters of every kind: `right_types` (list,
    default: the kind's `default_right_types`, None = all), `subtypes` (list, optional) and `stages`
    (list, default: the kind's `stages`)."""

    code: str = ""
    codes: tuple[str, ...] = ()
    kind: str = ""
    stages: tuple[str, ...] = ALL_STAGES
    default_right_types: tuple[str, ...] | None = None

    def __init__(self, params: dict, facts: Facts | None = None):
        params = dict(params or {})
        self.raw_params = params
        self.right_types = _list(params, "right_types",
                                 list(self.default_right_types) if self.default_right_types else None)
        if "right_type" in params:
            self.right_types = _list(params, "right_type")
        self.subtypes = [s.upper() for s in (_list(params, "subtypes") or [])] or None
        stages = _list(params, "stages")
        if stages:
            unknown = set(stages) - set(ALL_STAGES)
            if unknown:
                raise RuleParamsError("stages", f"unknown stages {sorted(unknown)}")
            self.stages = tuple(stages)
        self.params = self.validate(params)
        self.facts = facts

    def validate(self, params: dict) -> dict:
        """Check and normalize the kind's own parameters; raise RuleParamsError."""
        return params

    def bind(self, rules: list[BaseRule]) -> None:
        """Called once the version's rules are built (a rule may consult its siblings)."""

    def applies(self, ctx: CheckContext) -> bool:
        asset = ctx.asset
        if ctx.stage not in self.stages:
            return False
        if self.right_types is not None and asset.right_type_id not in self.right_types:
            return False
        if self.subtypes is not None and (asset.subtype or "").upper() not in self.subtypes:
            return False
        return True

    def check(self, ctx: CheckContext) -> Refusal | None:  # pragma: no cover - interface
        raise NotImplementedError

    def refuse(self, code: str, **params) -> Refusal:
        return Refusal(code=code, message_params=params, rule_kind=self.kind)

    # movement helpers
    @staticmethod
    def origin_of(ctx: CheckContext) -> str | None:
        return ctx.asset.origin_region_id or (ctx.seller.region_id if ctx.seller is not None else None)

    @classmethod
    def describe(cls) -> dict:
        return {"kind": cls.kind, "codes": list(cls.codes or (cls.code,)), "stages": list(cls.stages),
                "default_right_types": list(cls.default_right_types) if cls.default_right_types else None,
                "policy": " ".join((cls.__doc__ or "").split())}


RULES: dict[str, type[BaseRule]] = {}


def rule(cls: type[BaseRule]) -> type[BaseRule]:
    RULES[cls.kind] = cls
    return cls


# --- rule kinds --------------------------------------------------------------------------------------

@rule
class InterBasinTransferRule(BaseRule):
    """An inter-basin water transfer the authorities allow (跨流域调水): water rights may move from
    `from_basin` to `to_basin` (and back when `bidirectional`), with approval by the region `approver`
    when `needs_approval` (default true; the province when no approver is named). Consulted by the
    basin rule; on its own it refuses nothing."""

    kind = "inter_basin_transfer"
    code = W_INTER_BASIN
    stages = ALL_STAGES
    default_right_types = ("water",)

    def validate(self, params):
        for key in ("from_basin", "to_basin"):
            if not isinstance(params.get(key), str) or not params[key]:
                raise RuleParamsError(key, "a basin code")
        _region_code(params, "approver")
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
    default_right_types = ("water",)
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
    and released by the oversight workflow when the notice ends without objection."""

    kind = "public_notice"
    code = W_NOTICE
    stages = TRADE_STAGES
    default_right_types = ("water",)

    def validate(self, params):
        days = params.get("days", 5)
        if not isinstance(days, int) or isinstance(days, bool) or not 0 < days <= 60:
            raise RuleParamsError("days", "an integer between 1 and 60")
        return {"days": days, "working_days": bool(params.get("working_days", False))}

    def check(self, ctx):
        return Refusal(code=W_NOTICE, message_params={"days": self.params["days"]}, needs_approval=True,
                       notice_days=self.params["days"], notice_working_days=self.params["working_days"],
                       rule_kind=self.kind)


@rule
class NonAttainmentInflowRule(BaseRule):
    """No pollution transfer into areas that miss their targets (防止跨区域污染转移; 未达标地区不得
    新增排放): emission rights of pollutant P (the instrument's subtype) may not be bought into a region
    flagged non-attainment for P in the period that contains the trade date (`NonAttainmentFlag`),
    unless the rights originate inside that same flagged region (no inflow)."""

    kind = "non_attainment_inflow"
    code = E_NON_ATTAINMENT
    default_right_types = ("emission",)

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
        out["approver"] = _region_code(params, "approver", keywords=("province", "origin_city", "destination_city"))
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
                           rule_kind=self.kind)
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
        floor, ceiling = _fen(params, "floor"), _fen(params, "ceiling")
        if floor is None and ceiling is None:
            raise RuleParamsError("floor", "a floor or a ceiling is required")
        if floor is not None and ceiling is not None and floor > ceiling:
            raise RuleParamsError("ceiling", "must not be below the floor")
        basis = params.get("basis", "guided")
        if basis not in ("guided", "paid_use_fee"):
            raise RuleParamsError("basis", "guided or paid_use_fee")
        return {"floor": floor, "ceiling": ceiling, "region": _region_code(params, "region"), "basis": basis}

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
        maximum = _units(params, "max_units")
        if maximum is None:
            raise RuleParamsError("max_units", "required")
        return {"max_units": maximum, "organization_kinds": _list(params, "organization_kinds")}

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
                               after=_units_str(held + ctx.quantity, ctx.asset.scale))
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
        lo, hi = _units(params, "min_units"), _units(params, "max_units")
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


@rule
class EligibilityRule(BaseRule):
    """Who may buy (交易主体资格): `buyer_kinds` lists the organization kinds that may buy the right type
    (default: any); `require_permit` (default true for emission rights) requires the buyer to have a
    discharge permit on file (排污许可证: the organization's permit number, or a `DischargePermit`
    valid on the trade date and covering the pollutant); `require_active` (default true) refuses any
    party that is suspended — at settlement too, so freezing a participant stops its pending trades."""

    kind = "eligibility"
    code = Q_KIND
    codes = (Q_KIND, Q_PERMIT, Q_SUSPENDED)

    def validate(self, params):
        return {"buyer_kinds": _list(params, "buyer_kinds"),
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
            require_permit = ctx.asset.right_type_id == "emission"
        if require_permit and buyer.kind == "enterprise":
            on = timezone.localtime(ctx.at).date() if timezone.is_aware(ctx.at) else ctx.at.date()
            if not self.facts.has_permit(buyer, ctx.asset.subtype or "", on):
                return self.refuse(Q_PERMIT)
        return None


def validate_rule(kind: str, params: dict) -> dict:
    """Normalized params of a rule (for the rulebook API); raises RuleParamsError."""
    cls = RULES.get(kind)
    if cls is None:
        raise RuleParamsError("kind", f"unknown rule kind; one of {', '.join(sorted(RULES))}")
    if not isinstance(params, dict):
        raise RuleParamsError("params", "an object")
    cls(params, None)
    return params


def rule_kinds() -> list[dict]:
    return [RULES[k].describe() for k in sorted(RULES)]


# --- compiling and caching ---------------------------------------------------------------------------

@dataclass
class CompiledBook:
    version: int
    effective_from: datetime
    rules: list[BaseRule]
    by_right_type: dict = field(default_factory=dict)

    def rules_for(self, right_type: str | None) -> list[BaseRule]:
        if right_type not in self.by_right_type:
            self.by_right_type[right_type] = [r for r in self.rules
                                              if r.right_types is None or right_type in r.right_types]
        return self.by_right_type[right_type]


@dataclass
class Compiled:
    generation: object
    built_at: float
    books: list[CompiledBook]  # latest effective_from first
    facts: Facts

    def book_at(self, at: datetime) -> CompiledBook | None:
        for book in self.books:
            if book.effective_from <= at:
                return book
        return None


_lock = threading.Lock()
_state: dict = {"compiled": None}


GENERATION_SQL = f"(SELECT value FROM {GENERATION_TABLE} WHERE id = 1)"


def _generation():
    with connection.cursor() as cur:
        cur.execute(f"SELECT value FROM {GENERATION_TABLE} WHERE id = 1")
        row = cur.fetchone()
    return row[0] if row else None


def _load_facts() -> Facts:
    regions = {code: (level, zone, parent) for code, level, zone, parent in
               Region.objects.values_list("code", "level", "zone", "parent_id")}
    basins: dict[str, set[str]] = {}
    for region_id, basin_id in Region.basins.through.objects.values_list("region_id", "basin_id"):
        basins.setdefault(region_id, set()).add(basin_id)
    flags = list(NonAttainmentFlag.objects.values_list("region_id", "pollutant", "period_start", "period_end"))
    return Facts(regions, basins, flags)


def _compile(generation) -> Compiled:
    facts = _load_facts()
    books = []
    for book in RulebookVersion.objects.prefetch_related("rules").order_by("-effective_from", "-version"):
        built = []
        for r in book.rules.all():
            if r.enabled and r.kind in RULES:
                try:
                    built.append(RULES[r.kind](r.params, facts))
                except RuleParamsError:
                    continue  # the API validates; a rule written around it is skipped, not fatal
        for r in built:
            r.bind(built)
        books.append(CompiledBook(version=book.version, effective_from=book.effective_from, rules=built))
    return Compiled(generation=generation, built_at=time.monotonic(), books=books, facts=facts)


def compiled(generation=None) -> Compiled:
    """The rulebook compiled for the current generation; `generation` when the caller has just read it."""
    if generation is None:
        generation = _generation()
    current = _state["compiled"]
    if current is not None and current.generation == generation and time.monotonic() - current.built_at < MAX_AGE:
        return current
    with _lock:
        current = _compile(generation)
        _state["compiled"] = current
    return current


def invalidate() -> None:
    _state["compiled"] = None


def rulebook_in_force(at: datetime | None = None) -> RulebookVersion | None:
    at = at or timezone.now()
    return (RulebookVersion.objects.filter(effective_from__lte=at).prefetch_related("rules")
            .order_by("-effective_from", "-version").first())


def _refusals(ctx: CheckContext):
    book = compiled(ctx.rules_generation).book_at(ctx.at)
    if book is None:
        return None, iter(())
    right_type = getattr(ctx.asset, "right_type_id", None)
    return book.version, (r.check(ctx) for r in book.rules_for(right_type) if r.applies(ctx))


def evaluate(ctx: CheckContext) -> tuple[int | None, Refusal | None]:
    """(rulebook version, first refusal or None). A refusal with `needs_approval` lets a trade proceed
    to approval; any other refusal stops it. Among approval requirements, one that needs a person's
    approval is returned before a mere public-notice hold."""
    version, results = _refusals(ctx)
    approval = None
    for refusal in results:
        if refusal is None:
            continue
        if not refusal.needs_approval:
            return version, refusal
        if approval is None or (approval.notice_days and not refusal.notice_days):
            approval = refusal
    return version, approval


def evaluate_all(ctx: CheckContext) -> tuple[int | None, list[Refusal]]:
    """(rulebook version, every refusal and approval requirement) — for dossiers and the approval
    workflow, which needs all of them (e.g. a public notice and an approval)."""
    version, results = _refusals(ctx)
    return version, [r for r in results if r is not None]
