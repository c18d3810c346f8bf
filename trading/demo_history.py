"""Several weeks of demo trading history (`seed_demo`, before the live demo book of `trading.demo`), so
that every console chart has a shape on first run: ~42 local days of order-book trades in every demo
market (emission SO2/NOx/COD/NH3-N, carbon, energy-use, power generation, Ting–Han water, farmland grain
capacity) between the demo organizations of seven cities — about 5,500 trades — and a round trip between
two linked enterprises in the last hours that surveillance flags. (The trades that wait for four-eyes
approval are made by `oversight.demo`, once the rulebook exists.)

It is written through the bulk path, `trading.bulk` (see its docstring): orders, trades, events, outbox
rows, the settlement ledger transactions with their postings, audit events, each table in one INSERT …
SELECT, every ledger trigger and constraint in force; the flow roll-ups are kept by the triggers on the
trade table. The parties are funded first through the services (cash deposits by the operator, rights
issued by each instrument's issuer, with their audit events), for exactly what the history needs.
`seed_demo` seals the ledger at the end, so the history is provable.

Deterministic: a seeded PRNG draws every trade; only the dates follow today (days count back from it).
Idempotent: the history is one bulk batch keyed `demo-history`; when it is loaded nothing is written.
`DEMO_HISTORY_DAYS` shortens it (the browser tests use a few days).
"""
from __future__ import annotations

import os
import random
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.models import Organization
from core.money import from_minor
from ledger import services as ledger_services
from ledger.models import Asset
from marketplace.models import Market

from .bulk import HistoryTrade, batch_loaded, funding_needs, load_batch

DAYS = 42
KEY = "demo-history"
YUAN = 100
# market code: (seller keys, buyer keys, mid price in fen per unit, price step in fen, (min, max) lot units,
# trades per weekday)
FLOWS = {
    "CA-2026-350000": (("ent_minjiang", "ent_haicang"), ("ent_longyan", "ent_haicang", "ent_jinjiang", "ent_ningde"),
                       9_300, 40, (200, 2_000), 48),
    "EN-2026-350000": (("ent_longyan", "ent_ningde"), ("ent_ningde", "ent_jinjiang", "ent_haicang", "ent_minjiang"),
                       52_000, 300, (20, 300), 30),
    "PG-2026-350000": (("ent_minjiang",), ("ent_longyan", "ent_ningde", "ent_jinjiang", "ent_haicang"),
                       3_800, 30, (50, 800), 30),
    "EM-SO2-2026-350121": (("minhou",), ("ent_minjiang", "fuqing", "ent_ningde"), 30_300 * YUAN, 15_000, (1, 3), 12),
    "EM-NOX-2026-350121": (("minhou",), ("ent_minjiang", "fuqing", "ent_ningde"), 34_250 * YUAN, 20_000, (1, 3), 12),
    "EM-COD-2026-350181": (("fuqing",), ("ent_minjiang", "minhou"), 28_500 * YUAN, 15_000, (1, 3), 12),
    "EM-NH3N-2026-350181": (("fuqing",), ("ent_minjiang", "minhou"), 32_000 * YUAN, 15_000, (1, 2), 8),
    "WR-TINGHAN-2026-350803": (("yongding",), ("ent_longyan", "zhaoan"), 50, 2, (10_000, 200_000), 10),
    "FL-GRAIN-2026-350724": (("songxi",), ("minhou", "fuqing", "zhaoan"), 300_000 * YUAN, 3_000 * YUAN, (1, 5), 4),
}
# farmland quotas are issued against an accepted land-consolidation project (A-EVIDENCE-001)
EVIDENCE = {"FL-GRAIN-2026-350724": {"project_id": "SX-TDZZ-2026-HIST", "area_mu": "{units}",
                                     "acceptance_document": "松自然资验〔2026〕2号"}}


def _acting_for(org: Organization) -> Actor:
    return Actor(user_id=None, organization_id=org.id, role="system", organization_kind=org.kind)


def history_trades(orgs: dict[str, Organization], markets: dict[str, Market], days: int,
                   now: datetime | None = None) -> list[HistoryTrade]:
    """The history, drawn by a PRNG with a fixed seed: per market and day a price walk around its mid
    (within ±6%, on the tick), quieter weekends, times within trading hours; today only what has happened
    by four hours ago. A function of the seed and the hour of `now` (the current hour by default)."""
    rng = random.Random(2026)
    now = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    events = []
    for code, (sellers, buyers, mid, step, (lo, hi), per_day) in FLOWS.items():
        market = markets.get(code)
        if market is None:
            continue
        tick, scale = market.tick_size, market.asset.scale
        price = mid
        for day in range(days, -1, -1):
            base = today - timedelta(days=day)
            weekend = base.weekday() >= 5
            if weekend and rng.random() < 0.7:
                continue  # quieter weekends
            price = min(mid * 106 // 100, max(mid * 94 // 100, price + rng.randint(-step, step)))
            n = max(1, per_day + rng.randint(-per_day // 3, per_day // 3)) // (3 if weekend else 1) or 1
            for _ in range(n):
                at = base + timedelta(hours=9, minutes=rng.randint(0, 390), seconds=rng.randint(0, 59),
                                      microseconds=rng.randint(0, 999_999))
                p = max(tick, (price + rng.randint(-step // 2, step // 2)) // tick * tick)
                seller, buyer = rng.choice(sellers), rng.choice(buyers)
                while buyer == seller:
                    buyer = rng.choice(buyers)
                units = rng.randint(lo, hi)
                if at < now - timedelta(hours=4):  # today: only what has already happened
                    events.append((at, code, seller, buyer, p, units * 10**scale))
    carbon = markets.get("CA-2026-350000")
    if carbon is not None:
        # Haicang and Jinjiang share a person (chen_consultant): a round trip between them in the last
        # hours is what surveillance flags as self-dealing and wash trading
        for i, (seller, buyer) in enumerate((("ent_haicang", "ent_jinjiang"), ("ent_jinjiang", "ent_haicang"))):
            events.append((now - timedelta(hours=2 - i, minutes=30), "CA-2026-350000", seller, buyer, 9_300, 500))
    events.sort()
    return [HistoryTrade(market_id=markets[code].id, buyer_id=orgs[buyer].id, seller_id=orgs[seller].id,
                         price=p, quantity=q, at=at, client_tag=f"hist-{i + 1}")
            for i, (at, code, seller, buyer, p, q) in enumerate(events)]


def _fund(orgs: dict[str, Organization], trades: list[HistoryTrade]) -> None:
    """Exactly what the history needs, through the services: the operator confirms each buyer's cash
    deposit, each instrument's issuer issues each seller's rights (idempotent keys: a replay posts nothing)."""
    key_of = {org.id: key for key, org in orgs.items()}
    operator = _acting_for(orgs["operator"])
    cny_id = ledger_services.cny().id
    assets = Asset.objects.select_related("issuer").in_bulk({a for _, a in funding_needs(trades)})
    for (org_id, asset_id), amount in sorted(funding_needs(trades).items()):
        org = Organization.objects.get(pk=org_id)
        if asset_id == cny_id:
            ledger_services.cash_deposit(actor=operator, organization=org, amount=amount,
                                         bank_reference=f"CIB-2026-HIST-{key_of[org_id].upper()}",
                                         idempotency_key=f"demo-history-deposit-{key_of[org_id]}")
            continue
        asset = assets[asset_id]
        evidence = EVIDENCE.get(asset.code)
        if evidence:
            evidence = {**evidence, "area_mu": from_minor(amount, asset.scale)}
        ledger_services.rights_issue(actor=_acting_for(asset.issuer), issuer=asset.issuer, asset=asset,
                                     recipient=org, amount=amount, evidence=evidence,
                                     idempotency_key=f"demo-history-issue-{asset.code}-{key_of[org_id]}")


def seed_history() -> int:
    """Create the history when missing; returns the number of trades written."""
    if batch_loaded(KEY):
        return 0
    from accounts.demo import seed_accounts

    orgs = seed_accounts()
    markets = {m.code: m for m in Market.objects.select_related("asset").filter(code__in=FLOWS)}
    if not markets:
        return 0
    trades = history_trades(orgs, markets, int(os.environ.get("DEMO_HISTORY_DAYS", DAYS)))
    with transaction.atomic():
        _fund(orgs, trades)
        return load_batch(trades, key=KEY)
