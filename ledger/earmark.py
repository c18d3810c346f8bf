"""Earmarked funds: one ledger account per (government body, fund), receipts into the right fund, payouts
out of one fund for that fund's purposes only, and the per-fund report.

Funds (`FUNDS`; each fund is an account kind of its own, see the design overview of `ledger.models`):
  farmland             耕地保护专项资金: proceeds of farmland-quota (耕地占补平衡指标) sales of a government
                       seller (trading.settlement: 指标调剂收益主要用于耕地保护、农业农村发展)
  basin_compensation   流域生态补偿资金: basin eco-compensation transfers received (compensation
                       settlement, ledger kind `compensation_transfer`)
  paired_assistance    对口帮扶资金: paired-assistance payments and farmland buyers' support payments
                       received (assistance, ledger kinds `assistance_payment`, `assistance_support`)
Each fund has its own list of purpose codes. A receipt goes into the fund its ledger kind names
(`RECEIPT_FUNDS`), with a purpose of that fund; a payout names its fund and a purpose of that fund, and
debits only that fund's account: since the funds are separate accounts, each never below zero (CHECK),
no payout can spend another fund's money.

`earmarked_payout` spends from a fund. It is a payment OUT of the exchange (the fund's available → the
CNY issuance account, exactly like a bank withdrawal), not a move into the body's free cash: once in
free cash the money could be spent on anything (including buying rights back on the exchange) and the
earmarking would be lost, while a payment out records, in one ledger transaction, what left which fund,
for which purpose, described how, and against which bank reference.

Business checks (numbered, `core.checks`):
  A-FUND-001     unknown_fund               the fund is one of `FUNDS`
  A-PURPOSE-001  invalid_purpose_code       the purpose code is one of `EARMARK_PURPOSES`
  A-FUND-002     purpose_not_of_fund        … and one of the fund's own purposes
  A-FUND-003     not_an_earmark_holder      only government bodies hold earmarked funds
  A-FUND-004     not_a_receipt_kind         a receipt's ledger kind is one that feeds a fund

`earmarked_report` sums, per government body and fund: received (settlements and receipts), paid out
(per purpose code) and the balance.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils.translation import gettext

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import GOVERNMENT_KINDS, Organization, Region
from core.checks import BusinessCheck, business_check, enforce
from core.errors import DomainError, register

from . import sql
from .checks import PositiveAmount
from .models import AccountKind
from .posting import AVAILABLE, Leg, Posted, accounts_ensure, post
from .services import client_key, cny

# code: (zh, en). Codes are part of the API contract: add, never rename or reuse.
EARMARK_PURPOSES: dict[str, tuple[str, str]] = {
    "farmland_protection": ("耕地保护", "Farmland protection"),
    "high_standard_farmland": ("高标准农田建设", "High-standard farmland construction"),
    "farmland_quality": ("耕地质量提升", "Farmland quality improvement"),
    # paired assistance (山海协作对口帮扶) and farmland buyers' support: received into the fund by
    # `earmarked_receipt`, paid out for these purposes (assistance app)
    "industry_transfer": ("产业转移与协作", "Industry transfer and cooperation"),
    "infrastructure": ("基础设施建设", "Infrastructure construction"),
    "public_services": ("公共服务（教育、医疗等）", "Public services (education, health care, …)"),
    "land_consolidation": ("土地整治与复垦", "Land consolidation and reclamation"),
    "farmland_supplement": ("补充耕地项目", "Farmland supplement projects"),
    "rural_development": ("农业农村发展", "Agricultural and rural development"),
    "rural_revitalization": ("乡村振兴", "Rural revitalization"),
    # received basin eco-compensation (compensation app): 生态补偿资金 for the upstream's protection work
    "water_pollution_control": ("水污染防治", "Water-pollution control"),
    "ecological_protection": ("生态保护与修复", "Ecological protection and restoration"),
}


@dataclass(frozen=True)
class Fund:
    code: str
    kind: str  # the account kind (ledger.models.AccountKind)
    name_zh: str
    name_en: str
    purposes: tuple[str, ...]


FARMLAND, BASIN, ASSISTANCE = "farmland", "basin_compensation", "paired_assistance"
# Fund codes and their purposes are part of the API contract: add, never rename or reuse. A purpose may
# serve two funds (rural revitalization is a use of farmland proceeds and of assistance money alike).
FUNDS: dict[str, Fund] = {
    FARMLAND: Fund(FARMLAND, AccountKind.EARMARKED, "耕地保护专项资金", "Farmland protection fund",
                   ("farmland_protection", "high_standard_farmland", "farmland_quality", "land_consolidation",
                    "farmland_supplement", "rural_development", "rural_revitalization")),
    BASIN: Fund(BASIN, AccountKind.EARMARKED_BASIN, "流域生态补偿资金", "Basin eco-compensation fund",
                ("water_pollution_control", "ecological_protection")),
    ASSISTANCE: Fund(ASSISTANCE, AccountKind.EARMARKED_ASSISTANCE, "对口帮扶资金", "Paired-assistance fund",
                     ("industry_transfer", "infrastructure", "public_services", "rural_revitalization")),
}
FUND_OF_KIND: dict[str, str] = {f.kind: f.code for f in FUNDS.values()}
# ledger kinds of the government-to-government receipts (`earmarked_receipt`) → the fund they feed
RECEIPT_FUNDS: dict[str, str] = {"compensation_transfer": BASIN, "assistance_payment": ASSISTANCE,
                                 "assistance_support": ASSISTANCE}
PAYOUT_KIND = "earmark_payout"
SETTLE_KIND = "settle"

UNKNOWN_FUND = register("unknown_fund", 400, "未知的专项资金", "Unknown earmarked fund")
INVALID_PURPOSE_CODE = register("invalid_purpose_code", 400, "用途代码无效，专项资金只能用于规定用途",
                                "Invalid purpose code: earmarked funds may only be paid out for listed purposes")
PURPOSE_NOT_OF_FUND = register("purpose_not_of_fund", 400, "该用途不属于{fund}的规定用途，不能动用该资金",
                               "This purpose is not one of the {fund}'s purposes: that fund cannot pay for it")
NOT_AN_EARMARK_HOLDER = register("not_an_earmark_holder", 400, "只有政府机构持有专项资金",
                                 "Only government bodies hold earmarked funds")
NOT_A_RECEIPT_KIND = register("not_a_receipt_kind", 400, "该交易类型不能记入专项资金",
                              "This transaction kind cannot be received into an earmarked fund")
DESCRIPTION_REQUIRED = register("description_required", 400, "必须说明支出事项", "A description is required")


@business_check
class KnownFund(BusinessCheck):
    """An earmarked-fund operation names one of the funds (`FUNDS`: farmland, basin_compensation,
    paired_assistance)."""

    number, code, subject = "A-FUND-001", UNKNOWN_FUND, "asset"

    @classmethod
    def check(cls, *, fund, **_):
        if fund in FUNDS:
            return None
        return cls.refuse(fields={"fund": gettext("one of {choices}").format(choices=", ".join(FUNDS))})


@business_check
class KnownPurpose(BusinessCheck):
    """Earmarked money moves only for a listed purpose code (`EARMARK_PURPOSES`)."""

    number, code, subject = "A-PURPOSE-001", INVALID_PURPOSE_CODE, "asset"

    @classmethod
    def check(cls, *, purpose_code, **_):
        if purpose_code in EARMARK_PURPOSES:
            return None
        return cls.refuse(fields={"purpose_code": gettext("one of {choices}").format(
            choices=", ".join(EARMARK_PURPOSES))})


@business_check
class PurposeOfFund(BusinessCheck):
    """A fund receives and pays out only for its own purposes: basin eco-compensation money never pays a
    farmland project, farmland proceeds never pay for assistance, and so on."""

    number, code, subject = "A-FUND-002", PURPOSE_NOT_OF_FUND, "asset"

    @classmethod
    def check(cls, *, fund, purpose_code, **_):
        f = FUNDS[fund]
        if purpose_code in f.purposes:
            return None
        return cls.refuse(fields={"purpose_code": gettext("one of {choices}").format(choices=", ".join(f.purposes))},
                          fund=f.name_en)


@business_check
class EarmarkHolder(BusinessCheck):
    """Only government bodies (county, city, province governments) hold earmarked funds."""

    number, code, subject = "A-FUND-003", NOT_AN_EARMARK_HOLDER, "asset"

    @classmethod
    def check(cls, *, holder, **_):
        return None if holder.kind in GOVERNMENT_KINDS else cls.refuse()


@business_check
class ReceiptKind(BusinessCheck):
    """A government-to-government receipt into a fund is of a ledger kind that feeds a fund
    (`RECEIPT_FUNDS`: compensation transfers → basin fund, assistance payments → assistance fund)."""

    number, code, subject = "A-FUND-004", NOT_A_RECEIPT_KIND, "asset"

    @classmethod
    def check(cls, *, kind, **_):
        return None if kind in RECEIPT_FUNDS else cls.refuse(fields={"kind": kind})


def _run(*checks, **facts) -> None:
    for check in checks:
        enforce(check.check(**facts))


def fund_account_key(organization_id: int, fund: str, cash_id: int) -> tuple:
    """The ledger account key (organization, asset, kind) of a body's fund."""
    return (organization_id, cash_id, FUNDS[fund].kind)


@transaction.atomic
def earmarked_payout(*, actor: Actor, organization: Organization, amount: int, purpose_code: str,
                     idempotency_key: str, description: str, bank_reference: str = "",
                     fund: str = FARMLAND) -> Posted:
    """Pay `amount` fen out of `organization`'s earmarked `fund` for `purpose_code`, one of that fund's
    purposes (`FUNDS[fund].purposes`). `fund` defaults to farmland: the one fund there was before the
    split, so the callers of then keep meaning what they meant.

    Allowed for the fund's holder itself, the exchange operator and the system. Idempotent by key (the
    same key and request return the original transaction; another request under the key is a 409).
    A fund too small for the amount is `insufficient_balance` (whatever the body's other funds hold),
    and nothing is written."""
    _run(PositiveAmount, KnownFund, KnownPurpose, PurposeOfFund, amount=amount, fund=fund, purpose_code=purpose_code)
    if not (description or "").strip():
        raise DomainError(DESCRIPTION_REQUIRED, fields={"description": gettext("required")})
    EarmarkHolder.enforce(holder=organization)
    if not (actor.is_system or actor.organization_id == organization.id
            or actor.organization_kind == "exchange_operator"):
        raise DomainError("permission_denied")
    cash = cny()
    fund_key, out_key = fund_account_key(organization.id, fund, cash.id), (None, cash.id, AccountKind.ISSUANCE)
    ids = accounts_ensure([fund_key, out_key])
    request = {"organization": organization.id, "amount": amount, "purpose_code": purpose_code,
               "description": description.strip(), "bank_reference": bank_reference}
    if fund != FARMLAND:  # a farmland payout's request is what it was before the split (idempotent replays)
        request["fund"] = fund
    posted = post(kind=PAYOUT_KIND, idempotency_key=client_key(actor, PAYOUT_KIND, idempotency_key), request=request,
                  actor=actor, reference=("organization", organization.id),
                  memo={"purpose_code": purpose_code, "fund": fund, "description": description.strip(),
                        "bank_reference": bank_reference, "organization": organization.id},
                  legs=[Leg(ids[fund_key], AVAILABLE, -amount), Leg(ids[out_key], AVAILABLE, amount)])
    if not posted.replayed:
        audit_record(actor=actor, action="earmark.payout", object_type="ledger_transaction",
                     object_id=posted.transaction_id, after={**request, "fund": fund},
                     region_codes=[organization.region_id])
    return posted


def earmarked_report(*, region: Region | None = None, date_from: datetime | None = None,
                     date_to: datetime | None = None, fund: str | None = None) -> list[dict]:
    """Per government body and earmarked fund (within `region`, and only `fund`, when given): amounts
    received (quota-sale settlements and government-to-government receipts) and paid out in
    [date_from, date_to), payouts per purpose code, and the fund's current balance. Amounts in fen.
    A row per (body, fund) account that exists, ordered by region, body and fund."""
    window, params = "", []
    if date_from is not None:
        window += " AND t.created_at >= %s"
        params.append(date_from)
    if date_to is not None:
        window += " AND t.created_at < %s"
        params.append(date_to)
    with connection.cursor() as cur:
        cur.execute(sql.earmarked_funds(window), [*params, [f.kind for f in FUNDS.values()]])
        rows = cur.fetchall()
    order = list(FUNDS)
    out: dict[tuple[int, str], dict] = {}
    for org_id, name, region_id, account_kind, balance, kind, purpose, total, count in rows:
        code = FUND_OF_KIND[account_kind]
        if (region is not None and not region.covers(region_id)) or (fund is not None and code != fund):
            continue
        entry = out.setdefault((org_id, code), {
            "organization": org_id, "name": name, "region": region_id, "fund": code, "received": 0, "sales": 0,
            "receipts": 0, "paid_out": 0, "payouts": 0, "by_purpose": defaultdict(int), "other": 0,
            "balance": balance})
        if kind is None:
            continue
        if kind == SETTLE_KIND:
            entry["received"] += total
            entry["sales"] += count
        elif kind in RECEIPT_FUNDS:
            entry["received"] += total
            entry["receipts"] += count
        elif kind == PAYOUT_KIND:
            entry["paid_out"] += -total
            entry["payouts"] += count
            entry["by_purpose"][purpose] += -total
        else:
            entry["other"] += total
    for entry in out.values():
        entry["by_purpose"] = dict(entry["by_purpose"])
    return sorted(out.values(), key=lambda e: (e["region"], e["organization"], order.index(e["fund"])))


def earmarked_receipt(*, actor: Actor, kind: str, payer: Organization, payee: Organization, amount: int,
                      purpose_code: str, idempotency_key: str, request: dict, memo: dict | None = None,
                      reference: tuple[str, object] = ("", "")) -> Posted:
    """Pay `amount` fen from `payer`'s free cash into the fund of `payee` that `kind` feeds
    (`RECEIPT_FUNDS`: `assistance_payment`/`assistance_support` → paired_assistance), for `purpose_code`,
    one of that fund's purposes, as one ledger transaction of `kind`. The fund and purpose travel in the
    memo, so the fund's statement says what each receipt was for; the fund is then spent only by
    `earmarked_payout` naming that fund and one of its purposes.

    The caller owns the use case (authorization, its audit event, its transaction); `idempotency_key` is
    the full namespaced key. A payer short of cash is `insufficient_balance` and nothing is written."""
    _run(PositiveAmount, ReceiptKind, KnownPurpose, amount=amount, kind=kind, purpose_code=purpose_code)
    fund = RECEIPT_FUNDS[kind]
    _run(PurposeOfFund, EarmarkHolder, fund=fund, purpose_code=purpose_code, holder=payee)
    cash = cny()
    source, target = (payer.id, cash.id, AccountKind.PARTICIPANT), fund_account_key(payee.id, fund, cash.id)
    ids = accounts_ensure([source, target])
    return post(kind=kind, idempotency_key=idempotency_key, request=request, actor=actor, reference=reference,
                memo={"purpose_code": purpose_code, "fund": fund, "payer": payer.id, "payee": payee.id,
                      **(memo or {})},
                legs=[Leg(ids[source], AVAILABLE, -amount), Leg(ids[target], AVAILABLE, amount)])
