"""Demo trading activity for `make run` (`seed_demo` calls `seed_trading()` after the markets): a
populated order book on the SO2 and carbon markets with a few settled trades, a fixed-price farmland
quota listing by Songxi county, an English auction of Min River water rights and a negotiated transfer
offer. Idempotent: skipped when the demo orders already exist (client_order_id "demo-…")."""
from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.demo import seed_accounts
from accounts.models import Organization
from ledger.models import Asset
from marketplace.models import Market
from trading.listings.services import listing_create
from trading.models import Order
from trading.orderbook.services import order_place
from trading.settlement.services import trade_settle

YUAN = 100


def _actor(org: Organization) -> Actor:
    return Actor(user_id=None, organization_id=org.id, role="trader", organization_kind=org.kind)


@transaction.atomic  # all or nothing, so that a failed seeding is retried whole next time
def seed_trading() -> None:
    from .demo_history import seed_history

    seed_history()  # first, so that trade ids grow with trade times (the console's "today" probe relies on it)
    if Order.objects.filter(client_order_id__startswith="demo-").exists():
        return
    orgs = seed_accounts()
    so2 = Market.objects.filter(code="EM-SO2-2026-350121").select_related("asset").first()
    carbon = Market.objects.filter(code="CA-2026-350000").select_related("asset").first()
    trades = []

    def place(org_key, market, side, price_yuan, units, tag):
        org = orgs[org_key]
        result = order_place(actor=_actor(org), organization=org, market_id=market.id, side=side,
                             price=int(price_yuan * YUAN), quantity=units * 10**market.asset.scale,
                             client_order_id=f"demo-{tag}")
        trades.extend(result.trades)

    if so2 is not None:  # Minhou county sells its reserve; the thermal plant and a Xiamen firm buy
        for i, (price, units) in enumerate([(30_200, 10), (30_500, 15), (31_000, 20)]):
            place("minhou", so2, "sell", price, units, f"so2-ask-{i}")
        place("ent_minjiang", so2, "buy", 30_300, 8, "so2-bid-cross")
        for i, (price, units) in enumerate([(29_800, 5), (29_500, 12)]):
            place("ent_minjiang", so2, "buy", price, units, f"so2-bid-{i}")
    if carbon is not None:  # compliance buyers and a long seller
        for i, (price, units) in enumerate([(92.50, 5_000), (93.00, 8_000), (94.20, 10_000)]):
            place("ent_minjiang", carbon, "sell", price, units, f"ca-ask-{i}")
        place("ent_longyan", carbon, "buy", 93.00, 9_000, "ca-bid-cross")
        place("ent_haicang", carbon, "buy", 91.80, 3_000, "ca-bid-0")
    for trade in trades:
        trade_settle(trade_id=trade.id)

    now = timezone.now()
    farmland = Asset.objects.filter(code="FL-QTY-2026-350724").first()
    water = Asset.objects.filter(code="WR-MINJIANG-2026-350724").first()
    songxi = orgs["songxi"]
    if farmland is not None:
        listing_create(actor=_actor(songxi), seller=songxi, kind="fixed_price", asset_id=farmland.id,
                       quantity=250 * 100, price=45_000 * YUAN, divisible=True, min_purchase=50 * 100,
                       title="松溪县补充耕地数量指标 250 亩",
                       provenance={"project_id": "SX-TDZZ-2025-014", "acceptance_document": "松自然资验〔2025〕14号"})
    if water is not None:
        listing_create(actor=_actor(songxi), seller=songxi, kind="english", asset_id=water.id, quantity=500_000,
                       reserve_price=85, min_increment=1, start_at=now, end_at=now + timedelta(days=2),
                       anti_snipe_minutes=5, title="松溪县闽江流域取水权 50 万立方米竞价")
        listing_create(actor=_actor(songxi), seller=songxi, kind="negotiated", asset_id=water.id, quantity=200_000,
                       price=93, named_buyer_id=orgs["ent_minjiang"].id, end_at=now + timedelta(days=7),
                       title="协议转让：闽江流域取水权 20 万立方米")
