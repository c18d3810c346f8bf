"""Demo ledger history for `make run` (`python manage.py seed_demo` calls `seed_ledger()` after
`accounts.demo.seed_accounts()`).

Instruments of every right type with realistic figures (Fujian, vintage 2026, valid five years):
emission rights per county (SO2, NOx, COD, NH3-N; t with 3 decimals, i.e. kg), water rights in a basin
(m³, whole), farmland balance quotas (quantity, grain capacity, paddy; mu with 2 decimals, issued with
their acceptance evidence), energy-use rights (tce), carbon allowances (tCO2, whole tonnes) and
power-generation rights (MWh). Then issuance to counties and enterprises, cash deposits (¥5,000,000 per
enterprise), a withdrawal, a hold and its release, an operator transfer and compliance retirements,
and finally a seal, so the history is provable at once.

Idempotent: instruments are found by code and every movement has a fixed idempotency key, so a second
run replays instead of posting again. Works on an empty database after migrations (it asks
`accounts.demo` for the demo organizations, creating them when missing).
"""
from __future__ import annotations

from datetime import date

from accounts.actor import Actor
from accounts.models import Organization

from . import services
from .models import Asset
from .sealing import seal

VALID_FROM, VALID_TO = date(2026, 1, 1), date(2030, 12, 31)

# code: (right type, subtype, unit, scale, issuer key, origin region, basin, name_zh, name_en)
INSTRUMENTS: dict[str, tuple] = {
    "EM-SO2-2026-350121": ("emission", "SO2", "t", 3, "minhou", "350121", None,
                           "闽侯县二氧化硫排污权（2026）", "Minhou SO2 emission rights (2026)"),
    "EM-NOX-2026-350121": ("emission", "NOx", "t", 3, "minhou", "350121", None,
                           "闽侯县氮氧化物排污权（2026）", "Minhou NOx emission rights (2026)"),
    "EM-COD-2026-350181": ("emission", "COD", "t", 3, "fuqing", "350181", None,
                           "福清市化学需氧量排污权（2026）", "Fuqing COD emission rights (2026)"),
    "EM-NH3N-2026-350181": ("emission", "NH3-N", "t", 3, "fuqing", "350181", None,
                            "福清市氨氮排污权（2026）", "Fuqing NH3-N emission rights (2026)"),
    "WR-MINJIANG-2026-350724": ("water", "abstraction", "m3", 0, "songxi", "350724", "minjiang",
                                "松溪县闽江流域取水权（2026）", "Songxi Min River water rights (2026)"),
    "WR-TINGHAN-2026-350803": ("water", "abstraction", "m3", 0, "yongding", "350803", "tingjiang_hanjiang",
                               "永定区汀江-韩江流域取水权（2026）", "Yongding Ting–Han River water rights (2026)"),
    "FL-QTY-2026-350724": ("farmland", "quantity", "mu", 2, "songxi", "350724", None,
                           "松溪县补充耕地数量指标（2026）", "Songxi farmland quantity quota (2026)"),
    "FL-GRAIN-2026-350724": ("farmland", "grain_capacity", "mu", 2, "songxi", "350724", None,
                             "松溪县补充耕地粮食产能指标（2026）", "Songxi grain-capacity quota (2026)"),
    "FL-PADDY-2026-350624": ("farmland", "paddy", "mu", 2, "zhaoan", "350624", None,
                             "诏安县补充水田指标（2026）", "Zhao'an paddy-field quota (2026)"),
    "EN-2026-350000": ("energy", "", "tce", 3, "prov_authority", "350000", None,
                       "福建省用能权（2026）", "Fujian energy-use rights (2026)"),
    "CA-2026-350000": ("carbon", "", "tCO2", 0, "prov_authority", "350000", None,
                       "福建省碳排放配额（2026）", "Fujian carbon allowances (2026)"),
    "PG-2026-350000": ("power_generation", "", "MWh", 3, "prov_authority", "350000", None,
                       "福建省发电权（2026）", "Fujian power-generation rights (2026)"),
}

# (asset code, recipient key, amount in minor units, evidence)
ISSUANCES: list[tuple] = [
    ("EM-SO2-2026-350121", "minhou", 500_000, None),          # 500 t county reserve
    ("EM-SO2-2026-350121", "ent_minjiang", 120_500, None),    # 120.5 t to the thermal power plant
    ("EM-NOX-2026-350121", "minhou", 300_000, None),
    ("EM-NOX-2026-350121", "ent_minjiang", 85_250, None),
    ("EM-COD-2026-350181", "fuqing", 200_000, None),
    ("EM-NH3N-2026-350181", "fuqing", 40_000, None),
    ("WR-MINJIANG-2026-350724", "songxi", 5_000_000, None),          # 5 million m³
    ("WR-TINGHAN-2026-350803", "yongding", 3_000_000, None),
    ("FL-QTY-2026-350724", "songxi", 120_050, {
        "project_id": "SX-TDZZ-2025-014", "area_mu": "1200.50",
        "acceptance_document": "松自然资验〔2025〕14号"}),
    ("FL-GRAIN-2026-350724", "songxi", 95_000, {
        "project_id": "SX-TDZZ-2025-014", "area_mu": "950.00",
        "acceptance_document": "松自然资验〔2025〕14号"}),
    ("FL-PADDY-2026-350624", "zhaoan", 30_025, {
        "project_id": "ZA-ST-2025-003", "area_mu": "300.25",
        "acceptance_document": "诏自然资验〔2025〕3号"}),
    ("EN-2026-350000", "ent_longyan", 80_000_000, None),          # 80,000 tce for the cement plant
    ("EN-2026-350000", "ent_ningde", 50_000_000, None),
    ("EN-2026-350000", "ent_jinjiang", 20_000_000, None),
    ("CA-2026-350000", "ent_minjiang", 2_500_000, None),          # 2.5 million tCO2
    ("CA-2026-350000", "ent_longyan", 1_200_000, None),
    ("CA-2026-350000", "ent_haicang", 300_000, None),
    ("PG-2026-350000", "ent_minjiang", 500_000_000, None),        # 500,000 MWh
]

ENTERPRISES = ("ent_minjiang", "ent_haicang", "ent_jinjiang", "ent_longyan", "ent_ningde")

# fallback when accounts.demo is absent: (kind, region) of each organization this module needs
_FALLBACK = {
    "operator": ("exchange_operator", "350000"), "prov_authority": ("provincial_authority", "350000"),
    "minhou": ("county_government", "350121"), "fuqing": ("county_government", "350181"),
    "songxi": ("county_government", "350724"), "yongding": ("county_government", "350803"),
    "zhaoan": ("county_government", "350624"), "ent_minjiang": ("enterprise", "350121"),
    "ent_haicang": ("enterprise", "350205"), "ent_jinjiang": ("enterprise", "350582"),
    "ent_longyan": ("enterprise", "350802"), "ent_ningde": ("enterprise", "350902"),
}


def _organizations() -> dict[str, Organization]:
    try:
        from accounts.demo import seed_accounts  # optional: the demo seeders work without the accounts demo module
    except ImportError:
        seed_accounts = None
    if seed_accounts is not None:
        return seed_accounts()  # idempotent; returns the demo organizations by key
    orgs = {}
    for key, (kind, region) in _FALLBACK.items():
        org = Organization.objects.filter(kind=kind, region_id=region).order_by("id").first()
        if org is None:
            raise RuntimeError(f"seed_ledger needs a {kind} in {region}: run accounts' demo seeding first")
        orgs[key] = org
    return orgs


def _acting_for(org: Organization) -> Actor:
    return Actor(user_id=None, organization_id=org.id, role="system", organization_kind=org.kind)


def seed_ledger() -> dict[str, Asset]:
    """Create the demo instruments and history (what is missing); returns the instruments by code."""
    orgs = _organizations()
    operator = _acting_for(orgs["operator"])
    assets: dict[str, Asset] = {}
    for code, (right_type, subtype, unit, scale, issuer_key, origin, basin, zh, en) in INSTRUMENTS.items():
        asset = Asset.objects.filter(code=code).first()
        if asset is None:
            issuer = orgs[issuer_key]
            asset = services.asset_create(actor=_acting_for(issuer), code=code, right_type_id=right_type,
                                          subtype=subtype, unit=unit, scale=scale, vintage=2026,
                                          origin_region_id=origin, issuer=issuer, valid_from=VALID_FROM,
                                          valid_to=VALID_TO, basin_id=basin, name_zh=zh, name_en=en)
        assets[code] = asset

    for code, recipient, amount, evidence in ISSUANCES:
        issuer = orgs[INSTRUMENTS[code][4]]
        services.rights_issue(actor=_acting_for(issuer), issuer=issuer, asset=assets[code],
                              recipient=orgs[recipient], amount=amount, evidence=evidence,
                              idempotency_key=f"demo-issue-{code}-{recipient}")

    for key in ENTERPRISES:  # ¥5,000,000 each, confirmed by the operator against the bank's reference
        services.cash_deposit(actor=operator, organization=orgs[key], amount=500_000_000,
                              bank_reference=f"CIB-2026-DEMO-{key.upper()}", idempotency_key=f"demo-deposit-{key}")
    services.cash_deposit(actor=operator, organization=orgs["fuqing"], amount=2_000_000_000,
                          bank_reference="CIB-2026-DEMO-FUQING", idempotency_key="demo-deposit-fuqing")
    services.cash_withdraw(actor=operator, organization=orgs["ent_jinjiang"], amount=50_000_000,
                           bank_reference="CIB-2026-DEMO-WD-JINJIANG", idempotency_key="demo-withdraw-jinjiang")

    cny = services.cny()
    haicang = orgs["ent_haicang"]
    services.hold_create(actor=_acting_for(haicang), organization=haicang, asset=cny, amount=100_000_000,
                         idempotency_key="demo-hold-haicang", reference=("demo", "bid-deposit"))
    services.hold_cancel(actor=_acting_for(haicang), organization=haicang, asset=cny, amount=100_000_000,
                         idempotency_key="demo-release-haicang", reference=("demo", "bid-deposit"))

    services.rights_transfer(actor=operator, asset=assets["CA-2026-350000"], sender=orgs["ent_minjiang"],
                             recipient=haicang, amount=50_000, idempotency_key="demo-transfer-carbon",
                             reason="集团内部配额划转（经主管部门备案）")

    longyan = orgs["ent_longyan"]
    services.rights_retire(actor=_acting_for(longyan), asset=assets["CA-2026-350000"], organization=longyan,
                           amount=950_000, reason="2026年度碳排放配额清缴", compliance_period="2026",
                           idempotency_key="demo-retire-carbon-longyan")
    minjiang = orgs["ent_minjiang"]
    services.rights_retire(actor=_acting_for(minjiang), asset=assets["EM-SO2-2026-350121"], organization=minjiang,
                           amount=20_000, reason="2026年度排污许可量核销", compliance_period="2026",
                           idempotency_key="demo-retire-so2-minjiang")
    seal()
    return assets
