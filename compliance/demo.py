"""Demo data of the compliance cycle (`seed_demo` calls `seed_compliance()` after the other apps).

Coverage rows: carbon allowances and energy-use rights for the whole province, and Minhou's choice to run
a cycle for its SO2 emission rights. One compliance year, carbon 2025 (deadline 2026-11-30, pre-allocation
70%), allowances CA-2025-350000 issued by the provincial authority, three covered enterprises:

  enterprise      method                         pre-allocation       true-up     verified    surrendered
  闽江热电 (350121) benchmark 0.8218 t/MWh          2,900,000 MWh→1,668,254  +797,146   2,450,000   2,450,000
  闽西水泥 (350802) list 1,100,000 t                770,000             +330,000   1,180,000   1,100,000 (v2)
  海沧新材料 (350205) benchmark 1.2 t/t              300,000 t→252,000    −12,000    230,000     242,000

Every allocation is proposed by `province_nr_admin` and confirmed by `province_nr_approver` (maker–
checker); the verifier 福建省碳核查中心 (login `fj_verifier`) submits the emissions (Longyan's corrected
once, with a reason); surrenders are dated 2026-10-15. Haicang's negative true-up (−12,000 t) is added to
its obligation. Longyan is 80,000 t short after the deadline: the shortfall scan raises its alert (when
the machine's date is past 2026-11-30). A rulebook version adds the vintage rule for carbon (banking 3
years, no borrowing).

Idempotent and fast: everything is looked up first or replays by its idempotency key.
"""
from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

from accounts.actor import Actor
from accounts.demo import DEMO_PASSWORD, demo_password_hash, demo_uscc, seed_accounts
from accounts.models import Membership, Organization, User
from accounts.services import membership_create, organization_create, user_create
from ledger import movements
from ledger import services as ledger_services
from ledger.models import Asset, MovementStatus
from marketplace.rules import rulebook_in_force
from oversight.services import rulebook_create

from . import services
from .models import Allocation, ComplianceCoverage, ComplianceYear, CoveredEnterprise, VerifiedEmission

YEAR, DEADLINE, SURRENDERED_ON = 2025, date(2026, 11, 30), date(2026, 10, 15)
ASSET_CODE = "CA-2025-350000"
VERIFIER_USCC = demo_uscc("350100", 777_001, authority="5", category="2")
VERIFIER_LOGIN = "fj_verifier"

# key: (method, benchmark, listed t, expected output (pre), verified output, [verified t per version], surrender t)
ENTERPRISES = {
    "ent_minjiang": ("benchmark", "0.8218", None, "2900000", "3000000", [2_450_000], 2_450_000, "MWh"),
    "ent_longyan": ("list", None, 1_100_000, None, None, [1_150_000, 1_180_000], 1_100_000, ""),
    "ent_haicang": ("benchmark", "1.2", None, "300000", "200000", [230_000], 242_000, "t"),
}
LOGINS = {"ent_minjiang": "minjiang_trader", "ent_longyan": "longyan_trader", "ent_haicang": "haicang_trader"}


def _membership(username: str, org: Organization) -> Membership:
    return Membership.objects.select_related("organization__region", "user").get(user__username=username,
                                                                                 organization=org)


def _verifier() -> tuple[Organization, Membership]:
    system = Actor.system()
    org = Organization.objects.filter(uscc=VERIFIER_USCC).first()
    if org is None:
        org = organization_create(actor=system, kind="verifier", name_zh="福建省碳排放核查中心",
                                  name_en="Fujian Carbon Emission Verification Centre", region_id="350100",
                                  uscc=VERIFIER_USCC)
    user = User.objects.filter(username=VERIFIER_LOGIN).first() or user_create(
        actor=system, username=VERIFIER_LOGIN, password=DEMO_PASSWORD, display_name="碳核查中心核查员",
        password_hash=demo_password_hash())
    if not Membership.objects.filter(user=user, organization=org).exists():
        membership_create(actor=system, user=user, organization=org, role="trader")
    return org, _membership(VERIFIER_LOGIN, org)


def _coverage(orgs) -> None:
    for right_type, subtype, region, since, by in (("carbon", "", "350000", 2021, "prov_authority"),
                                                   ("energy", "", "350000", 2021, "prov_authority"),
                                                   ("emission", "SO2", "350121", 2026, "minhou")):
        if not ComplianceCoverage.objects.filter(right_type_id=right_type, subtype=subtype, region_id=region).exists():
            admin = Membership.objects.filter(organization=orgs[by], role="admin").select_related(
                "organization__region").first()
            services.coverage_create(membership=admin, right_type_id=right_type, region_id=region, subtype=subtype,
                                     since_year=since)


def _vintage_rule() -> None:
    book = rulebook_in_force()
    if book is not None and any(r.kind == "surrender_vintage" for r in book.rules.all()):
        return
    rules = [{"kind": r.kind, "params": r.params, "enabled": r.enabled} for r in (book.rules.all() if book else [])]
    rules.append({"kind": "surrender_vintage", "params": {"right_types": ["carbon"], "max_age_years": 3,
                                                          "borrow_years": 0}, "enabled": True})
    rulebook_create(actor=Actor.system(), membership=None, rules=rules,
                    description="碳排放配额清缴年度规则：可使用3年内的配额，不得预支")


def seed_compliance() -> ComplianceYear:
    orgs = seed_accounts()
    authority = orgs["prov_authority"]
    maker = _membership("province_nr_admin", authority)
    checker = _membership("province_nr_approver", authority)
    verifier, verifier_member = _verifier()
    _coverage(orgs)
    _vintage_rule()

    asset = Asset.objects.filter(code=ASSET_CODE).first() or ledger_services.asset_create(
        actor=Actor(user_id=None, organization_id=authority.pk, role="system", organization_kind=authority.kind),
        code=ASSET_CODE, right_type_id="carbon", subtype="", unit="tCO2", scale=0, vintage=YEAR,
        origin_region_id="350000", issuer=authority, valid_from=date(2025, 1, 1), valid_to=date(2030, 12, 31),
        name_zh="福建省碳排放配额（2025）", name_en="Fujian carbon allowances (2025)")
    year = ComplianceYear.objects.filter(right_type_id="carbon", region_id="350000", year=YEAR).first()
    if year is None:
        year = services.compliance_year_create(membership=maker, right_type_id="carbon", region_id="350000",
                                               year=YEAR, allocation_asset=asset, deadline=DEADLINE,
                                               pre_allocation_percent=70, name="福建省碳排放权2025履约年度")

    for key, (method, benchmark, listed, expected, output, versions, surrender, unit) in ENTERPRISES.items():
        org = orgs[key]
        if not CoveredEnterprise.objects.filter(compliance_year=year, organization=org).exists():
            services.enterprise_cover(membership=maker, year=year, organization=org, method=method,
                                      benchmark=Decimal(benchmark) if benchmark else None, listed_amount=listed,
                                      output_unit=unit, verifier=verifier)
        pre, _ = services.allocation_propose(membership=maker, year=year, organization=org, phase="pre",
                                             expected_output=Decimal(expected) if expected else None,
                                             idempotency_key=f"demo-pre-{key}")
        _confirm(pre, checker)
        done = VerifiedEmission.objects.filter(compliance_year=year, organization=org).count()
        for i, amount in enumerate(versions[done:], start=done):
            report = f"{key}-{YEAR}-v{i + 1}"
            services.emission_submit(membership=verifier_member, year=year, organization=org, amount=amount,
                                     output=Decimal(output) if output else None,
                                     evidence_sha256=hashlib.sha256(report.encode()).hexdigest(),
                                     evidence_reference=f"闽碳核〔{YEAR + 1}〕{100 + i}号 {report}",
                                     reason="" if i == 0 else "补充核查：水泥熟料产量数据更正")
        true_up, _ = services.allocation_propose(membership=maker, year=year, organization=org, phase="true_up",
                                                 idempotency_key=f"demo-true-up-{key}")
        _confirm(true_up, checker)
        services.surrender_create(membership=_membership(LOGINS[key], org), year=year, asset=asset,
                                  amount=surrender, idempotency_key=f"demo-surrender-{key}", on=SURRENDERED_ON)
    services.shortfall_scan()
    return year


def _confirm(allocation: Allocation, checker: Membership) -> None:
    if allocation.movement_id is not None and allocation.movement.status == MovementStatus.PENDING:
        movements.movement_confirm(membership=checker, movement_id=allocation.movement_id)
