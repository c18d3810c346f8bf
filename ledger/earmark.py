"""Earmarked farmland-protection funds: paying out, and the per-county report.

Farmland-quota (耕地占补平衡指标) proceeds of a government seller are settled into its `earmarked` CNY
account, not its free cash (trading.settlement.services): 指标调剂收益主要用于耕地保护、农业农村发展.

`earmarked_payout` spends from that fund. It is a payment OUT of the exchange (earmarked available →
the CNY issuance account, exactly like a bank withdrawal), not a move into the county's free cash:
once in free cash the money could be spent on anything (including buying rights back on the exchange)
and the earmarking would be lost, while a payment out records, in one ledger transaction, what left the
fund, for which purpose (a code from a fixed list), described how, and against which bank reference.
The county's fiscal department pays the projects from there; the exchange's books show the fund
draining only by coded payouts.

`earmarked_report` sums, per government body holding a fund: proceeds received (settlements), paid out
(per purpose code) and the balance.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import connection, transaction
from django.utils.translation import gettext

from accounts.actor import Actor
from accounts.audit import audit_record
from accounts.models import GOVERNMENT_KINDS, Organization, Region
from core.errors import DomainError, register

from . import sql
from .errors import INVALID_AMOUNT
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
PAYOUT_KIND = "earmark_payout"

INVALID_PURPOSE_CODE = register("invalid_purpose_code", 400, "用途代码无效，专项资金只能用于规定用途",
                                "Invalid purpose code: earmarked funds may only be paid out for listed purposes")
NOT_AN_EARMARK_HOLDER = register("not_an_earmark_holder", 400, "只有政府机构持有耕地保护专项资金",
                                 "Only government bodies hold earmarked farmland-protection funds")
DESCRIPTION_REQUIRED = register("description_required", 400, "必须说明支出事项", "A description is required")


@transaction.atomic
def earmarked_payout(*, actor: Actor, organization: Organization, amount: int, purpose_code: str,
                     idempotency_key: str, description: str, bank_reference: str = "") -> Posted:
    """Pay `amount` fen out of `organization`'s earmarked fund for `purpose_code` (EARMARK_PURPOSES).

    Allowed for the fund's holder itself, the exchange operator and the system. Idempotent by key (the
    same key and request return the original transaction; another request under the key is a 409).
    A fund too small for the amount is `insufficient_balance`, and nothing is written."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise DomainError(INVALID_AMOUNT, fields={"amount": "must be a positive amount"})
    if purpose_code not in EARMARK_PURPOSES:
        raise DomainError(INVALID_PURPOSE_CODE, fields={"purpose_code": gettext("one of {choices}").format(
            choices=", ".join(EARMARK_PURPOSES))})
    if not (description or "").strip():
        raise DomainError(DESCRIPTION_REQUIRED, fields={"description": gettext("required")})
    if organization.kind not in GOVERNMENT_KINDS:
        raise DomainError(NOT_AN_EARMARK_HOLDER)
    if not (actor.is_system or actor.organization_id == organization.id
            or actor.organization_kind == "exchange_operator"):
        raise DomainError("permission_denied")
    cash = cny()
    fund_key, out_key = (organization.id, cash.id, AccountKind.EARMARKED), (None, cash.id, AccountKind.ISSUANCE)
    ids = accounts_ensure([fund_key, out_key])
    request = {"organization": organization.id, "amount": amount, "purpose_code": purpose_code,
               "description": description.strip(), "bank_reference": bank_reference}
    posted = post(kind=PAYOUT_KIND, idempotency_key=client_key(actor, PAYOUT_KIND, idempotency_key), request=request,
                  actor=actor, reference=("organization", organization.id),
                  memo={"purpose_code": purpose_code, "description": description.strip(),
                        "bank_reference": bank_reference, "organization": organization.id},
                  legs=[Leg(ids[fund_key], AVAILABLE, -amount), Leg(ids[out_key], AVAILABLE, amount)])
    if not posted.replayed:
        audit_record(actor=actor, action="earmark.payout", object_type="ledger_transaction",
                     object_id=posted.transaction_id, after=request, region_codes=[organization.region_id])
    return posted


def earmarked_report(*, region: Region | None = None, date_from: datetime | None = None,
                     date_to: datetime | None = None) -> list[dict]:
    """Per government body with an earmarked fund (within `region` when given): proceeds received and
    amounts paid out in [date_from, date_to), payouts per purpose code, and the fund's current balance.
    Amounts in fen."""
    window, params = "", []
    if date_from is not None:
        window += " AND t.created_at >= %s"
        params.append(date_from)
    if date_to is not None:
        window += " AND t.created_at < %s"
        params.append(date_to)
    with connection.cursor() as cur:
        cur.execute(sql.earmarked_funds(window), params)
        rows = cur.fetchall()
    out: dict[int, dict] = {}
    for org_id, name, region_id, balance, kind, purpose, total, count in rows:
        if region is not None and not region.covers(region_id):
            continue
        entry = out.setdefault(org_id, {"organization": org_id, "name": name, "region": region_id, "received": 0,
                                        "sales": 0, "paid_out": 0, "payouts": 0, "by_purpose": defaultdict(int),
                                        "other": 0, "balance": balance})
        if kind is None:
            continue
        if kind == "settle":
            entry["received"] += total
            entry["sales"] += count
        elif kind == PAYOUT_KIND:
            entry["paid_out"] += -total
            entry["payouts"] += count
            entry["by_purpose"][purpose] += -total
        else:
            entry["other"] += total
    for entry in out.values():
        entry["by_purpose"] = dict(entry["by_purpose"])
    return list(out.values())


RECEIPT_KIND_PREFIXES = ("assistance_", "compensation_")
NOT_A_RECEIPT_KIND = register("not_a_receipt_kind", 400, "该交易类型不能记入专项资金",
                              "This transaction kind cannot be received into an earmarked fund")


def earmarked_receipt(*, actor: Actor, kind: str, payer: Organization, payee: Organization, amount: int,
                      purpose_code: str, idempotency_key: str, request: dict, memo: dict | None = None,
                      reference: tuple[str, object] = ("", "")) -> Posted:
    """Pay `amount` fen from `payer`'s free cash into `payee`'s earmarked fund, for `purpose_code`
    (EARMARK_PURPOSES), as one ledger transaction of `kind` (a government-to-government transfer: paired
    assistance, compensation). The purpose travels in the memo, so the fund's statement says what each
    receipt was for; the fund is then spent only by `earmarked_payout` with a purpose code.

    The caller owns the use case (authorization, its audit event, its transaction); `idempotency_key` is
    the full namespaced key. A payer short of cash is `insufficient_balance` and nothing is written."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise DomainError(INVALID_AMOUNT, fields={"amount": "must be a positive amount"})
    if not kind.startswith(RECEIPT_KIND_PREFIXES):
        raise DomainError(NOT_A_RECEIPT_KIND, fields={"kind": kind})
    if purpose_code not in EARMARK_PURPOSES:
        raise DomainError(INVALID_PURPOSE_CODE, fields={"purpose_code": f"one of {', '.join(EARMARK_PURPOSES)}"})
    if payee.kind not in GOVERNMENT_KINDS:
        raise DomainError(NOT_AN_EARMARK_HOLDER)
    cash = cny()
    source, fund = (payer.id, cash.id, AccountKind.PARTICIPANT), (payee.id, cash.id, AccountKind.EARMARKED)
    ids = accounts_ensure([source, fund])
    return post(kind=kind, idempotency_key=idempotency_key, request=request, actor=actor, reference=reference,
                memo={"purpose_code": purpose_code, "payer": payer.id, "payee": payee.id, **(memo or {})},
                legs=[Leg(ids[source], AVAILABLE, -amount), Leg(ids[fund], AVAILABLE, amount)])
