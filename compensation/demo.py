"""Demo data of compensation between regions (`seed_demo` calls `seed_compensation`).

* The Tingjiang–Hanjiang (汀江-韩江) agreement between Longyan (acting for Fujian, upstream),
  the Guangdong provincial government (downstream) and the Ministry of Finance (rewarder:
  the central reward by results, paid to the upstream party), at two provincial-boundary sections (the
  Tingjiang at Yongding–Dabu and the Shiku River at Wuping–Meizhou), pooled: compliance-rate tiers on
  the monthly rate with the annual indicator as a condition, each province escrowing ¥100 million a year
  (the real agreement's figure) and the ministry ¥30 million (the demo's figure). 2024: one month out of
  compliance (23/24 section-months ≥ 0.90, both annual means within Class III → Guangdong pays ¥100
  million, the ministry rewards ¥30 million). 2025: two spill months at the Tingjiang (NH3-N 6.5 mg/L):
  22/24 = 0.9167 ≥ 0.90 by the monthly rate, but the Tingjiang's annual NH3-N mean exceeds 1.0 mg/L, so
  the annual rate is 1/2 and the top tier is not reached (0.75 tier: Guangdong pays ¥50 million, the
  reward is ¥15 million). Longyan's receipts from Guangdong are ¥150 million in two years — ¥75 million
  a year, the same order as the real 615 million over 2016–2024 (≈ ¥68 million a year) — plus ¥45
  million of central reward. A 2026 period is funded (escrow held) and running. Being cross-provincial, the
  agreement and each result are approved by Fujian's regulator and by Guangdong's (`regulator_gd_admin`,
  `regulator_gd_approver`: Guangdong's Department of Ecology and Environment, jurisdiction 440000), two
  people each; the ministry (a rewarder) makes no province of Beijing.
* A province-internal Jiulong River (九龙江) agreement between Zhangzhou (upstream) and Xiamen
  (downstream): composite index over CODMn, NH3-N, TP and BOD5 with a stability coefficient of 0.85,
  ¥30 million either way (Xiamen's yearly upstream contribution in the 2009 report); 2024 good
  (Xiamen pays), 2025 bad (Zhangzhou pays): the two-way direction.
* One correction after settlement (Tingjiang 2025-03 NH3-N), which reopens nothing and is shown.

Guangdong's region rows come from compensation.reference (data migration 0002, and again here); its
organizations, the other
parties, the monitoring station and their users are created here. Everything goes through the services
(signatures, four-eyes approvals, escrow, assessment, settlement on the ledger). Idempotent: an existing
agreement is left as it is. Fast: ~270 measurements and a dozen ledger transactions.
"""
from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from accounts.actor import Actor
from accounts.demo import DEMO_PASSWORD, demo_password_hash, demo_uscc
from accounts.models import Basin, Membership, Organization, Region, User
from accounts.services import membership_create, organization_create, user_create
from ledger import services as ledger_services

from . import services
from .models import Agreement, AgreementVersion, CompensationApproval, Indicator, MonitoringSection
from .reference import ensure_central_region, ensure_reference

SHANGHAI = ZoneInfo("Asia/Shanghai")

# key: (kind, name_zh, name_en, region, uscc authority+category)
ORGANIZATIONS = {
    "longyan": ("city_government", "龙岩市人民政府", "Longyan Municipal Government", "350800", "11"),
    "guangdong": ("provincial_authority", "广东省人民政府", "Guangdong Provincial People's Government",
                  "440000", "11"),
    # Guangdong's regulator: its jurisdiction is Guangdong (440000 and below), it approves the cross-provincial
    # agreement and its results beside Fujian's (two people each) and sees nothing Fujian-internal
    "gd_regulator": ("regulator", "广东省生态环境厅", "Guangdong Department of Ecology and Environment",
                     "440000", "11"),
    "zhangzhou": ("city_government", "漳州市人民政府", "Zhangzhou Municipal Government", "350600", "11"),
    "xiamen": ("city_government", "厦门市人民政府", "Xiamen Municipal Government", "350200", "11"),
    "mof": ("provincial_authority", "中华人民共和国财政部", "Ministry of Finance of the PRC", "110000", "11"),
    "station": ("monitoring_station", "福建省环境监测中心站", "Fujian Environmental Monitoring Centre", "350000", "12"),
}
MEMBERS = [  # username, display, org key, role
    ("longyan_admin", "龙岩市政府管理员", "longyan", "admin"),
    ("guangdong_admin", "广东省人民政府管理员", "guangdong", "admin"),
    ("regulator_gd_admin", "广东省生态环境厅管理员", "gd_regulator", "admin"),
    ("regulator_gd_approver", "广东省生态环境厅审核员", "gd_regulator", "approver"),
    ("zhangzhou_admin", "漳州市政府管理员", "zhangzhou", "admin"),
    ("xiamen_city_admin", "厦门市政府管理员", "xiamen", "admin"),
    ("mof_admin", "财政部管理员", "mof", "admin"),
    ("station_fj", "省环境监测中心站报送员", "station", "admin"),
]
DEPOSITS = {"longyan": 300_000_000_00, "guangdong": 400_000_000_00, "zhangzhou": 100_000_000_00,
            "xiamen": 100_000_000_00, "mof": 100_000_000_00}

TING, JIU = "tingjiang-hanjiang", "jiulongjiang-zhangzhou-xiamen"
SECTIONS = {
    "tingjiang-boundary": ("汀江闽粤省界断面（永定—大埔）",
                           "Tingjiang Fujian–Guangdong boundary section (Yongding–Dabu)",
                           "tingjiang_hanjiang", "350800", "441400"),
    "shikuhe-boundary": ("石窟河（中山河）闽粤省界断面（武平—梅州）",
                         "Shiku (Zhongshan) River Fujian–Guangdong boundary section (Wuping–Meizhou)",
                         "tingjiang_hanjiang", "350824", "441400"),
    "jiulongjiang-north": ("九龙江北溪漳厦交界断面", "Jiulong River North Stream Zhangzhou–Xiamen section",
                           "jiulongjiang", "350600", "350200"),
}
# months out of compliance at the Tingjiang section (NH3-N above the Class III limit of 1.0 mg/L): 2024 one
# month slightly over, 2025 two spill months high enough to lift the annual mean over the limit
TING_BAD = {date(2024, 7, 1): "1.180", date(2025, 6, 1): "6.500", date(2025, 8, 1): "6.500"}


def _uscc(key: str, region: str, ac: str) -> str:
    serial = int(hashlib.sha256(f"compensation:{key}".encode()).hexdigest(), 16) % 1_000_000
    return demo_uscc(region, serial, authority=ac[0], category=ac[1])


def _organizations() -> dict[str, Organization]:
    actor, orgs = Actor.system(), {}
    for key, (kind, zh, en, region, ac) in ORGANIZATIONS.items():
        uscc = _uscc(key, region, ac)
        orgs[key] = Organization.objects.filter(uscc=uscc).first() or organization_create(
            actor=actor, kind=kind, name_zh=zh, name_en=en, region_id=region, uscc=uscc,
            jurisdiction_id=region if kind == "regulator" else None)
    for username, display, key, role in MEMBERS:
        user = User.objects.filter(username=username).first() or user_create(
            actor=actor, username=username, password=DEMO_PASSWORD, display_name=display,
            password_hash=demo_password_hash())
        if not Membership.objects.filter(user=user, organization=orgs[key]).exists():
            membership_create(actor=actor, user=user, organization=orgs[key], role=role)
    return orgs


def _member(username: str, org: Organization | None = None) -> Membership:
    qs = Membership.objects.select_related("organization").filter(user__username=username)
    return (qs.filter(organization=org) if org else qs).get()


def _at(d: date, hour: int = 10) -> datetime:
    return datetime.combine(d, time(hour), tzinfo=SHANGHAI)


def _months(start: date, end: date):
    d = start
    while d <= end:
        yield d
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _ting_rows():
    rows = []
    for i, m in enumerate(_months(date(2024, 1, 1), date(2025, 12, 1))):
        wiggle = (i * 7) % 10  # deterministic variation
        nh3n = TING_BAD.get(m) or f"0.{42 + wiggle * 3:03d}"
        rows += [{"section": "tingjiang-boundary", "indicator": "codmn", "month": m.isoformat()[:7],
                  "value": f"{2 + wiggle / 10:.2f}", "unit": "mg/L"},
                 {"section": "tingjiang-boundary", "indicator": "nh3n", "month": m.isoformat()[:7],
                  "value": nh3n, "unit": "mg/L"},
                 {"section": "tingjiang-boundary", "indicator": "tp", "month": m.isoformat()[:7],
                  "value": f"0.{60 + wiggle * 4:03d}", "unit": "mg/L"}]
        shiku = (i * 3) % 10  # the Shiku River: within Class III every month
        rows += [{"section": "shikuhe-boundary", "indicator": "codmn", "month": m.isoformat()[:7],
                  "value": f"{3 + shiku / 10:.2f}", "unit": "mg/L"},
                 {"section": "shikuhe-boundary", "indicator": "nh3n", "month": m.isoformat()[:7],
                  "value": f"0.{300 + shiku * 20:03d}", "unit": "mg/L"},
                 {"section": "shikuhe-boundary", "indicator": "tp", "month": m.isoformat()[:7],
                  "value": f"0.{80 + shiku * 5:03d}", "unit": "mg/L"}]
    return rows


def _jiu_rows():
    rows = []
    for i, m in enumerate(_months(date(2024, 1, 1), date(2025, 12, 1))):
        worse = m.year == 2025  # 2025: about 20% above the baselines
        f = 1.2 if worse else 0.9
        wiggle = ((i * 3) % 5 - 2) / 100
        for code, base, places in (("codmn", 3.0, 2), ("nh3n", 0.5, 3), ("tp", 0.1, 3), ("bod5", 2.0, 2)):
            rows.append({"section": "jiulongjiang-north", "indicator": code, "month": m.isoformat()[:7],
                         "value": f"{base * (f + wiggle):.{places}f}", "unit": "mg/L"})
    return rows


def _sign_and_approve(version: AgreementVersion, signers: list[Membership], now: datetime) -> None:
    for m in signers:
        services.version_sign(membership=m, version_id=version.pk)
    _approve(CompensationApproval.objects.get(version=version), now)


def _approve(approval: CompensationApproval, now: datetime) -> None:
    """Fujian's regulator (two people); a cross-provincial approval also Guangdong's (two people)."""
    usernames = ["regulator_fj_admin", "regulator_fj_approver"]
    if len(services.approval_provinces(approval)) > 1:
        usernames += ["regulator_gd_admin", "regulator_gd_approver"]
    for username in usernames:
        services.approval_decide(membership=_member(username), approval_id=approval.pk, decision="approve",
                                 reason="demo", now=now)


def _run_year(year: int, now_fund: datetime) -> None:
    """Fund at the year's start, assess on 2 January after it, approve, settle after the objection window."""
    services.compensation_tick(now=now_fund, today=now_fund.date())
    assess_at = _at(date(year + 1, 1, 2))
    services.compensation_tick(now=assess_at, today=assess_at.date())
    for approval in CompensationApproval.objects.filter(status="pending", assessment__isnull=False):
        _approve(approval, assess_at + timedelta(hours=4))
    settle_at = assess_at + timedelta(days=services.OBJECTION_DAYS + 1)
    services.compensation_tick(now=settle_at, today=date(year + 1, 1, 2))


def seed_compensation() -> None:
    # what this posts is rolled up, surveyed and sealed by seed_demo's last step (oversight.demo.settle_demo)
    _seed()


@transaction.atomic
def _seed() -> bool:
    if Agreement.objects.filter(code=TING).exists():
        return False
    ensure_reference(Region, Basin, Indicator)  # a flushed test database has lost the migration's rows
    ensure_central_region(Region)  # the Ministry of Finance's seat
    orgs = _organizations()
    operator = Organization.objects.filter(kind="exchange_operator").order_by("id").first()
    op_actor = Actor(user_id=None, organization_id=operator.id, role="system", organization_kind=operator.kind)
    for key, amount in DEPOSITS.items():
        ledger_services.cash_deposit(actor=op_actor, organization=orgs[key], amount=amount,
                                     bank_reference=f"CIB-2026-DEMO-ECO-{key.upper()}",
                                     idempotency_key=f"demo-eco-deposit-{key}")
    for code, (zh, en, basin, up, down) in SECTIONS.items():
        if not MonitoringSection.objects.filter(code=code).exists():
            MonitoringSection.objects.create(code=code, name_zh=zh, name_en=en, basin_id=basin, upstream_region_id=up,
                                             downstream_region_id=down, station=orgs["station"])
    years = [{"start": f"{y}-01-01", "end": f"{y}-12-31"} for y in (2024, 2025, 2026)]
    ting = services.version_create(
        membership=_member("longyan_admin"), code=TING, name_zh="汀江-韩江流域上下游横向生态补偿协议",
        name_en="Tingjiang–Hanjiang upstream–downstream horizontal eco-compensation agreement",
        basin_id="tingjiang_hanjiang", formula_kind="compliance_tiers",
        terms={"sections": ["tingjiang-boundary", "shikuhe-boundary"], "combine": "pooled",
               "missing_month": "non_compliant", "tiers": [
                   {"min_rate": "0.9", "min_annual_rate": "1", "payer": "downstream", "payee": "upstream",
                    "amount": "100000000.00", "reward": "30000000.00"},
                   {"min_rate": "0.75", "min_annual_rate": "0.5", "payer": "downstream", "payee": "upstream",
                    "amount": "50000000.00", "reward": "15000000.00"},
                   {"min_rate": "0", "payer": "upstream", "payee": "downstream", "amount": "100000000.00"}]},
        parties=[{"organization": orgs["longyan"].id, "role": "upstream", "contribution": "100000000.00"},
                 {"organization": orgs["guangdong"].id, "role": "downstream", "contribution": "100000000.00"},
                 {"organization": orgs["mof"].id, "role": "rewarder", "contribution": "30000000.00"}],
        sections=["tingjiang-boundary", "shikuhe-boundary"],
        indicators=[{"indicator": "codmn", "target_class": 3, "limit": "6"},
                    {"indicator": "nh3n", "target_class": 3, "limit": "1.0"},
                    {"indicator": "tp", "target_class": 3, "limit": "0.2"}],
        periods=years, description="Monthly and annual compliance rates at two boundary sections against Class III; "
                                    "two-way; the central reward to the upstream party by the tier reached.")
    jiu = services.version_create(
        membership=_member("xiamen_city_admin"), code=JIU, name_zh="九龙江流域漳厦上下游生态补偿协议",
        name_en="Jiulong River Zhangzhou–Xiamen eco-compensation agreement", basin_id="jiulongjiang",
        formula_kind="composite_index",
        terms={"section": "jiulongjiang-north", "stability_coefficient": "0.85",
               "good": {"payer": "downstream", "payee": "upstream", "amount": "30000000.00"},
               "bad": {"payer": "upstream", "payee": "downstream", "amount": "30000000.00"}},
        parties=[{"organization": orgs["zhangzhou"].id, "role": "upstream", "contribution": "30000000.00"},
                 {"organization": orgs["xiamen"].id, "role": "downstream", "contribution": "30000000.00"}],
        sections=["jiulongjiang-north"],
        indicators=[{"indicator": "codmn", "baseline": "3.0", "weight": "0.25"},
                    {"indicator": "nh3n", "baseline": "0.5", "weight": "0.25"},
                    {"indicator": "tp", "baseline": "0.1", "weight": "0.25"},
                    {"indicator": "bod5", "baseline": "2.0", "weight": "0.25"}],
        periods=years, description="P = K × Σ kᵢ·Cᵢ/C0ᵢ with K = 0.85; P ≤ 1 Xiamen pays, P > 1 Zhangzhou pays.")
    signed_at = _at(date(2023, 12, 20))
    _sign_and_approve(ting, [_member("longyan_admin"), _member("guangdong_admin"), _member("mof_admin")], signed_at)
    _sign_and_approve(jiu, [_member("zhangzhou_admin"), _member("xiamen_city_admin")], signed_at)
    station = _member("station_fj")
    services.measurements_submit(membership=station, rows=_ting_rows() + _jiu_rows(), source="demo",
                                 today=date(2026, 1, 1))
    _run_year(2024, _at(date(2024, 1, 1), 9))
    _run_year(2025, _at(date(2025, 1, 1), 9))
    services.compensation_tick(now=_at(date(2026, 1, 1), 9), today=date(2026, 1, 1))  # 2026 funded, running
    # a correction after settlement: a new version with its reason; the settled result stays, flagged
    services.measurements_submit(membership=station, source="demo", today=date(2026, 2, 1), rows=[
        {"section": "tingjiang-boundary", "indicator": "nh3n", "month": "2025-03", "value": "0.515", "unit": "mg/L",
         "reason": "laboratory re-analysis of the retained sample"}])
    return True
