"""Demo data of oversight (`python manage.py seed_demo` calls `seed_oversight()` after the other apps):
the first rulebook version, a non-attainment flag, approval requests for whatever the demo trades left
pending, a first surveillance run, and a seal of the ledger. Idempotent: the rulebook is written only
when none exists, the flag only when missing; approval sync, surveillance and sealing never duplicate
anything."""
from __future__ import annotations

from datetime import date

from django.db import transaction

from accounts.actor import Actor
from accounts.models import TRADING_KINDS
from ledger.sealing import seal
from marketplace.models import NonAttainmentFlag, RulebookVersion

from .approvals import approvals_sync
from .reports import flow_rollup
from .services import rulebook_create
from .surveillance import run_surveillance

YUAN = 100
ENTERPRISE_AND_GOVERNMENT = list(TRADING_KINDS)

DEMO_RULES = [
    # water stays in its basin, except the Min River → Mulan River diversion, which the province approves
    {"kind": "basin", "params": {}},
    {"kind": "inter_basin_transfer", "params": {"from_basin": "minjiang", "to_basin": "mulanxi",
                                                "approver": "350000"}},
    {"kind": "public_notice", "params": {"right_types": ["water"], "days": 5}},
    # no emission inflow into non-attainment areas; air pollutants cross zones only with approval
    {"kind": "non_attainment_inflow", "params": {}},
    {"kind": "scope", "params": {"right_types": ["emission"], "subtypes": ["SO2", "NOx"], "zone": "approve",
                                 "province": "deny"}},
    {"kind": "scope", "params": {"right_types": ["emission"], "subtypes": ["COD", "NH3-N"], "province": "deny"}},
    {"kind": "scope", "params": {"right_types": ["farmland"], "province": "deny"}},
    # guided prices: farmland quantity quota ¥30,000–¥80,000 per mu; emission floors at the paid-use fee
    {"kind": "guided_price", "params": {"right_types": ["farmland"], "subtypes": ["quantity"],
                                        "floor": 30_000 * YUAN, "ceiling": 80_000 * YUAN}},
    {"kind": "guided_price", "params": {"right_types": ["emission"], "subtypes": ["SO2", "NOx"],
                                        "floor": 1_000 * YUAN, "basis": "paid_use_fee"}},
    {"kind": "guided_price", "params": {"right_types": ["emission"], "subtypes": ["COD", "NH3-N"],
                                        "floor": 1_500 * YUAN, "basis": "paid_use_fee"}},
    {"kind": "holding_limit", "params": {"right_types": ["emission"], "max_units": "5000",
                                         "organization_kinds": ["enterprise"]}},
    {"kind": "lot_limit", "params": {"right_types": ["farmland"], "min_units": "1", "max_units": "10000"}},
    {"kind": "eligibility", "params": {"right_types": ["emission"], "buyer_kinds": ENTERPRISE_AND_GOVERNMENT}},
    {"kind": "eligibility", "params": {"right_types": ["farmland"], "buyer_kinds": ENTERPRISE_AND_GOVERNMENT,
                                       "require_permit": False}},
]

DEMO_FLAGS = [("350600", "SO2")]  # Zhangzhou misses its SO2 target this year


def seed_oversight() -> None:
    actor = Actor.system()
    with transaction.atomic():
        if not RulebookVersion.objects.exists():
            rulebook_create(actor=actor, membership=None, rules=DEMO_RULES, description="演示规则 2026 版")
        year = date.today().year
        for region, pollutant in DEMO_FLAGS:
            NonAttainmentFlag.objects.get_or_create(region_id=region, pollutant=pollutant,
                                                    period_start=date(year, 1, 1), period_end=date(year, 12, 31))
    _held_trades()
    settle_demo()


def settle_demo() -> None:
    """What the beat would do within seconds of the seeding: open approvals, roll up flows, survey, seal.
    Everything seeded so far (the bulk-loaded history included: `trading.bulk`) becomes provable at once;
    with nothing new each step writes nothing. `seed_demo` calls it again after the apps above oversight."""
    approvals_sync()
    flow_rollup()
    run_surveillance()
    seal()


def _held_trades() -> None:
    """SO2 of Minhou (闽东北 zone) bought by Yongding district (闽西南): the scope rule holds these trades
    for the province's four-eyes approval, so the regulators' queue is not empty. Idempotent (client
    order ids "demo-held-…")."""
    from accounts.demo import seed_accounts
    from marketplace.models import Market
    from trading.models import Order
    from trading.orderbook.services import order_place

    market = Market.objects.filter(code="EM-SO2-2026-350121").select_related("asset").first()
    if market is None or Order.objects.filter(client_order_id__startswith="demo-held-").exists():
        return
    orgs = seed_accounts()
    price = (market.reference_price or 30_300 * YUAN) // market.tick_size * market.tick_size
    with transaction.atomic():
        for i in range(3):
            for side, key in (("sell", "minhou"), ("buy", "yongding")):
                org = orgs[key]
                order_place(actor=Actor(user_id=None, organization_id=org.id, role="trader",
                                        organization_kind=org.kind),
                            organization=org, market_id=market.id, side=side, price=price,
                            quantity=(1 + i) * 10**market.asset.scale, client_order_id=f"demo-held-{i}-{side}")
