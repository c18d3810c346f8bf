"""Several weeks of demo trading history (`seed_demo`, before the live demo book of `trading.demo`), so
that the console's charts have a shape on first run: ~35 local days of order-book trades in the emission,
carbon, energy-use and power-generation markets between the demo organizations of several cities,
and a round trip between two linked enterprises that surveillance flags. (The trades that wait for
four-eyes approval are made by `oversight.demo`, once the rulebook exists.)

Every trade goes through the real paths: `order_place` (escrow, matching, fees, audit) and `trade_settle`
(the delivery-versus-payment ledger transaction), both with their `now` set to the historical moment, so
the ledger stays balanced and `verify_ledger` clean. One documented shortcut: `Trade.created_at` and
`Order.created_at` are `auto_now_add`, so after the matching they are set to the historical moment by one
UPDATE per table (the settlement's own `settled_at`, which the flow roll-up keys on, comes from `now`).
The ledger transactions keep their real creation time (they are sealed as they are).

Deterministic (a seeded PRNG; days count back from today) and idempotent: skipped when the history's
orders (client_order_id "hist-…") exist. About 700 trades: ~2,100 service calls, 15–30 s on the 2-core
machine (the price of going through the real paths).
"""
from __future__ import annotations

import os
import random
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.models import Organization
from ledger import services as ledger_services
from marketplace.models import Market

from .models import Order, TradeStatus
from .orderbook.services import order_place
from .settlement.services import trade_settle

DAYS = 35  # DEMO_HISTORY_DAYS overrides it (the browser tests use a few days)
YUAN = 100
# market code: (seller keys, buyer keys, mid price in fen, price step in fen, (min, max) lot units, trades per day)
FLOWS = {
    "CA-2026-350000": (("ent_minjiang",), ("ent_longyan", "ent_haicang", "ent_jinjiang", "ent_ningde"),
                       9_300, 40, (200, 2_000), 8),
    "EN-2026-350000": (("ent_longyan",), ("ent_ningde", "ent_jinjiang", "ent_haicang", "ent_minjiang"),
                       52_000, 300, (20, 300), 5),
    "PG-2026-350000": (("ent_minjiang",), ("ent_longyan", "ent_ningde", "ent_jinjiang"), 3_800, 30, (50, 800), 4),
    "EM-SO2-2026-350121": (("minhou",), ("ent_minjiang", "fuqing"), 30_300 * YUAN, 15_000, (1, 3), 2),
    "EM-NOX-2026-350121": (("minhou",), ("ent_minjiang", "fuqing"), 34_250 * YUAN, 20_000, (1, 3), 2),
    "EM-COD-2026-350181": (("fuqing",), ("ent_minjiang", "minhou"), 28_500 * YUAN, 15_000, (1, 3), 2),
}
CASH_TOP_UP = {"ent_minjiang": 50_000_000_00, "ent_longyan": 20_000_000_00, "ent_haicang": 20_000_000_00,
               "ent_jinjiang": 20_000_000_00, "ent_ningde": 20_000_000_00, "fuqing": 5_000_000_00,
               "minhou": 5_000_000_00, "yongding": 5_000_000_00}


def _actor(org: Organization) -> Actor:
    return Actor(user_id=None, organization_id=org.id, role="trader", organization_kind=org.kind)


def seed_history() -> int:
    """Create the history when missing; returns the number of trades made."""
    if Order.objects.filter(client_order_id__startswith="hist-").exists():
        return 0
    from accounts.demo import seed_accounts

    orgs = seed_accounts()
    markets = {m.code: m for m in Market.objects.select_related("asset").filter(code__in=FLOWS)}
    if not markets:
        return 0
    days = int(os.environ.get("DEMO_HISTORY_DAYS", DAYS))
    operator = _actor(orgs["operator"])
    rng = random.Random(2026)
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    made: list[tuple[int, object]] = []   # (trade id, moment)
    orders: list[tuple[int, object]] = []
    seq = 0
    last_price: dict[str, int] = {}
    with transaction.atomic():
        for key, amount in CASH_TOP_UP.items():
            ledger_services.cash_deposit(actor=operator, organization=orgs[key], amount=amount,
                                         bank_reference=f"CIB-2026-HIST-{key.upper()}",
                                         idempotency_key=f"demo-history-deposit-{key}")

        def trade(market, seller, buyer, price, units, at):
            nonlocal seq
            seq += 1
            qty = units * 10**market.asset.scale
            sell = order_place(actor=_actor(seller), organization=seller, market_id=market.id, side="sell",
                               price=price, quantity=qty, client_order_id=f"hist-{seq}-s", now=at)
            buy = order_place(actor=_actor(buyer), organization=buyer, market_id=market.id, side="buy",
                              price=price, quantity=qty, client_order_id=f"hist-{seq}-b",
                              now=at + timedelta(seconds=1))
            orders.extend([(sell.order.id, at), (buy.order.id, at + timedelta(seconds=1))])
            for t in buy.trades:
                made.append((t.id, at + timedelta(seconds=1)))
                if t.status == TradeStatus.MATCHED:  # settled at once (sellers sell what they bought)
                    trade_settle(trade_id=t.id, now=at + timedelta(seconds=4))

        events = []  # drawn per market, then made in time order: trade ids grow with trade times
        for code, (sellers, buyers, mid, step, (lo, hi), per_day) in FLOWS.items():
            market = markets.get(code)
            if market is None:
                continue
            tick = market.tick_size
            price = mid
            for day in range(days, -1, -1):
                base = today - timedelta(days=day)
                if base.weekday() >= 5 and rng.random() < 0.7:
                    continue  # quieter weekends
                price = max(tick, price + rng.randint(-step, step))
                n = max(1, per_day + rng.randint(-per_day // 2, per_day // 2))
                for _ in range(n):
                    at = base + timedelta(hours=9, minutes=rng.randint(0, 390), seconds=rng.randint(0, 59))
                    p = max(tick, (price + rng.randint(-step // 2, step // 2)) // tick * tick)
                    event = (at, code, rng.choice(sellers), rng.choice(buyers), p, rng.randint(lo, hi))
                    if at < timezone.now() - timedelta(hours=4):  # today: only what has already happened
                        events.append(event)
            last_price[code] = price // tick * tick
        for at, code, seller, buyer, p, units in sorted(events):
            trade(markets[code], orgs[seller], orgs[buyer], p, units, at)
        carbon = markets.get("CA-2026-350000")
        if carbon is not None:
            # Haicang and Jinjiang share a person (chen_consultant): a round trip between them in the last
            # hours is what surveillance flags as self-dealing and wash trading
            for i, (seller, buyer) in enumerate((("ent_haicang", "ent_jinjiang"), ("ent_jinjiang", "ent_haicang"))):
                trade(carbon, orgs[seller], orgs[buyer], last_price["CA-2026-350000"], 500,
                      timezone.now() - timedelta(hours=3 - i))
        with connection.cursor() as cur:
            for table, rows in (("trading_trade", made), ("trading_order", orders)):
                for start in range(0, len(rows), 5000):
                    chunk = rows[start:start + 5000]
                    cur.execute(f"""UPDATE {table} t SET created_at = v.at
                                      FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, at)
                                     WHERE t.id = v.id""", [[i for i, _ in chunk], [a for _, a in chunk]])
    return len(made)
