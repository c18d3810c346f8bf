"""Seed the bench database (run once per fresh bench state): the exchange operator, an issuing county,
trading enterprises spread over Fujian's counties (one trader membership and API token each, cash and
rights in every market), the trading markets, the settlement markets and two fee-free book-depth markets.
Writes STATE/seed.json (tokens, ids) for the other drivers and the wrk script."""
from __future__ import annotations

import argparse
import json
import os

from .common import SEED_FILE, log, setup_django

MID_PRICE = 10_000  # fen per unit (100.00 yuan)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orgs", type=int, default=64)
    ap.add_argument("--markets", type=int, default=4)
    ap.add_argument("--settle-fee-bps", type=int, default=int(os.environ.get("BENCH_SETTLE_FEE_BPS", "5")),
                    help="fee of the settlement markets (0: settlements post no fee legs)")
    args = ap.parse_args()
    setup_django()

    from django.db import transaction

    from accounts.actor import Actor
    from accounts.models import Membership, Organization, Region, User
    from accounts.services import token_issue
    from accounts.uscc import make_uscc
    from ledger.reference import ensure_reference_data
    from ledger.services import asset_create, cash_deposit, rights_issue
    from marketplace.services import market_create

    ensure_reference_data()
    system = Actor.system()
    seq = iter(range(1, 10**6))

    def org(kind: str, region: str, name: str, **extra) -> Organization:
        return Organization.objects.create(kind=kind, name_zh=name, name_en=name, region_id=region,
                                           uscc=make_uscc(f"{region}8{next(seq):08d}"), **extra)

    counties = list(Region.objects.filter(level="county").order_by("code").values_list("code", flat=True))
    with transaction.atomic():
        operator = Organization.objects.filter(kind="exchange_operator").first() or org(
            "exchange_operator", "350000", "bench-operator")
        issuer = org("county_government", "350121", "bench-issuer")
    markets = []
    specs = [("emission", "SO2", "t"), ("emission", "COD", "t"), ("carbon", "CEA", "tCO2"), ("energy", "tce", "tce"),
             ("power_generation", "MWh", "MWh"), ("emission", "NOx", "t")]
    for i in range(args.markets):
        rt, sub, unit = specs[i % len(specs)]
        with transaction.atomic():
            asset = asset_create(actor=system, code=f"bench-{rt}-{sub}-{i}", right_type_id=rt, subtype=sub, unit=unit,
                                 scale=3, vintage=2026, origin_region_id="350121", issuer=issuer)
            markets.append(market_create(actor=system, asset=asset, code=f"bench-m{i}", lot_size=1000, fee_bps=5,
                                         fee_min=0))
    settle_markets = []  # the settlement scenario's own books (one per settlement queue)
    for i in range(args.markets):
        rt, sub, unit = specs[i % len(specs)]
        with transaction.atomic():
            asset = asset_create(actor=system, code=f"bench-s-{rt}-{sub}-{i}", right_type_id=rt, subtype=sub,
                                 unit=unit, scale=3, vintage=2026, origin_region_id="350121", issuer=issuer)
            settle_markets.append(market_create(actor=system, asset=asset, code=f"bench-s{i}", lot_size=1000,
                                                fee_bps=args.settle_fee_bps, fee_min=0))
    depth = []  # the book-depth scenario's two fee-free books: a small one and a large one, same instrument kind
    for tag in ("small", "large"):
        with transaction.atomic():
            asset = asset_create(actor=system, code=f"bench-depth-{tag}", right_type_id="emission", subtype="SO2",
                                 unit="t", scale=3, vintage=2026, origin_region_id="350121", issuer=issuer)
            depth.append(market_create(actor=system, asset=asset, code=f"bench-depth-{tag}", lot_size=1000,
                                       fee_bps=0, fee_min=0, price_band_bps=None))

    def trader(o: Organization) -> str:
        user = User.objects.create(username=f"bench-{o.id}")
        user.set_unusable_password()
        user.save(update_fields=["password"])
        secret, _ = token_issue(membership=Membership.objects.create(user=user, organization=o, role="trader"))
        return secret

    orgs, tokens = [], []
    for i in range(args.orgs):
        with transaction.atomic():
            o = org("enterprise", counties[i % len(counties)], f"bench-enterprise-{i}")
            tokens.append(trader(o))
        orgs.append(o)
        cash_deposit(actor=system, organization=o, amount=10**12, bank_reference=f"bench-{o.id}",
                     idempotency_key=f"bench-fund-{o.id}")
        for m in markets + settle_markets:
            rights_issue(actor=system, issuer=issuer, asset=m.asset, recipient=o, amount=10**10,
                         idempotency_key=f"bench-fund-{o.id}-{m.id}")
    maker = org("enterprise", "350102", "bench-depth-maker")
    cash_deposit(actor=system, organization=maker, amount=10**13, bank_reference="bench-maker",
                 idempotency_key="bench-fund-maker")
    for m in depth:
        rights_issue(actor=system, issuer=issuer, asset=m.asset, recipient=maker, amount=10**12,
                     idempotency_key=f"bench-fund-maker-{m.id}")
        for o in orgs[:4]:
            rights_issue(actor=system, issuer=issuer, asset=m.asset, recipient=o, amount=10**10,
                         idempotency_key=f"bench-fund-{o.id}-{m.id}")
    seed = {
        "operator": operator.id, "issuer": issuer.id, "mid_price": MID_PRICE,
        "markets": [m.id for m in markets], "settle_markets": [m.id for m in settle_markets],
        "orgs": [o.id for o in orgs], "users": [User.objects.get(username=f"bench-{o.id}").id for o in orgs],
        "tokens": tokens,
        "depth_markets": {"small": depth[0].id, "large": depth[1].id}, "depth_maker": maker.id,
        "depth_takers": [o.id for o in orgs[:4]],
        "depth_taker_tokens": tokens[:4],
    }
    SEED_FILE.write_text(json.dumps(seed, indent=1))
    from django.db import connection

    with connection.cursor() as cur:  # planner statistics, as a database in service has them
        cur.execute("ANALYZE")
    log(f"seeded {len(orgs)} organizations, {len(markets)} trading, {len(settle_markets)} settlement and 2 depth "
        "markets")


if __name__ == "__main__":
    main()
