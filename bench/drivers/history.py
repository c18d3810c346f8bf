"""The bench's large trade history (`report`, `console`, `surveillance` use it): `--trades` settled
order-book trades, dated over the past year in time order, over the report instruments (right types ×
origin counties) between the seed organizations, written through the product's bulk history path
(`trading.bulk`, the path `seed_demo` uses): orders, trades, events, outbox, one settlement ledger
transaction per trade with its postings, audit events, the flow roll-ups kept by the triggers; every
ledger trigger and constraint in force. Batches of 100k trades, one transaction each.

Idempotent: `ensure(total)` adds only what is missing (batch keys `bench-history:<i>`), so whichever
scenario runs first builds it and the others reuse it. The parties are funded first through the services
(rights issued by the instruments' issuer; the seed deposited their cash). Not sealed (beat does not run
in the bench; sealing is the `verify` scenario's measurement).

Alone: `python -m bench.drivers.history --trades 200000` (after `python -m bench.drivers.seed`)."""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from datetime import timedelta

from .common import load_seed, log, rnd, setup_django

KEY = "bench-history"
BATCH = 100_000
RIGHT_TYPES = ["emission", "farmland", "energy", "carbon", "power_generation"]
EVIDENCE = {"project_id": "BENCH-1", "area_mu": "1", "acceptance_document": "bench"}


def instruments() -> list[tuple[int, int]]:
    """(market id, asset id) of the report instruments (right types × origin counties), made once."""
    from accounts.actor import Actor
    from accounts.models import Organization, Region
    from accounts.uscc import make_uscc
    from ledger.services import asset_create
    from marketplace.models import Market
    from marketplace.services import market_create

    found = list(Market.objects.filter(code__startswith="bench-r-").order_by("id").values_list("id", "asset_id"))
    if found:
        return found
    system = Actor.system()
    issuer = Organization.objects.create(kind="provincial_authority", name_zh="bench-report-issuer",
                                         region_id="350000", uscc=make_uscc("350000900000001"))
    counties = list(Region.objects.filter(level="county").order_by("code").values_list("code", flat=True))
    out = []
    for i, origin in enumerate(counties[::4][:24]):
        rt = RIGHT_TYPES[i % len(RIGHT_TYPES)]
        asset = asset_create(actor=system, code=f"bench-r-{rt}-{origin}", right_type_id=rt, subtype="R", unit="u",
                             scale=3, vintage=2026, origin_region_id=origin, issuer=issuer, basin_id=None)
        market = market_create(actor=system, asset=asset, code=f"bench-r-{i}", lot_size=1000, fee_bps=5)
        out.append((market.id, asset.id))
    return out


def _fund(markets: list[tuple[int, int]], orgs: list[int]) -> None:
    """Rights of every report instrument for every organization (their cash came with the seed)."""
    from accounts.actor import Actor
    from accounts.models import Organization
    from ledger.models import Asset
    from ledger.services import rights_issue

    system = Actor.system()
    parties = Organization.objects.in_bulk(orgs)
    for asset in Asset.objects.select_related("issuer", "right_type").filter(id__in=[a for _, a in markets]):
        evidence = EVIDENCE if asset.right_type.issuance_evidence else None
        for org in orgs:
            rights_issue(actor=system, issuer=asset.issuer, asset=asset, recipient=parties[org], amount=10**11,
                         evidence=evidence, idempotency_key=f"{KEY}-fund-{asset.id}-{org}")


def trades(total: int, markets: list[tuple[int, int]], orgs: list[int], *, start: int = 0) -> Iterator:
    """Trade g (g ≥ start) of `total`: deterministic in g (instrument, parties, price, quantity), dated
    over the year before now in g order."""
    from django.utils import timezone

    from trading.bulk import HistoryTrade

    now = timezone.now()
    first, step = now - timedelta(days=365), timedelta(days=365) / total
    ni, no = len(markets), len(orgs)
    for g in range(start + 1, total + 1):
        b = (g * 17) % no
        s = (g * 17 + 1 + (g // 7) % (no - 1)) % no
        yield HistoryTrade(market_id=markets[(g * 31) % ni][0], buyer_id=orgs[b], seller_id=orgs[s],
                           price=5000 + (g * 7919) % 10001, quantity=1000 * (1 + (g * 13) % 20),
                           at=first + step * g, client_tag=f"{KEY}-{g}")


def ensure(total: int) -> dict:
    """At least `total` bench history trades exist (what is missing is loaded); returns figures."""
    from django.db import connection

    from trading.bulk import batch_loaded, load_batch

    seed = load_seed()
    markets = instruments()
    t0 = time.monotonic()
    if not all(batch_loaded(f"{KEY}:{i}") for i in range(-(-total // BATCH))):
        _fund(markets, seed["orgs"])
    fund_s = time.monotonic() - t0
    loaded = 0
    t0 = time.monotonic()
    batch: list = []
    index = 0
    for trade in trades(total, markets, seed["orgs"]):
        batch.append(trade)
        if len(batch) == BATCH:
            if not batch_loaded(f"{KEY}:{index}"):
                loaded += load_batch(batch, key=f"{KEY}:{index}")
                log(f"history: {loaded} trades loaded ({time.monotonic() - t0:.0f} s)")
            batch, index = [], index + 1
    if batch and not batch_loaded(f"{KEY}:{index}"):
        loaded += load_batch(batch, key=f"{KEY}:{index}")
    load_s = time.monotonic() - t0
    if loaded:
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    return {"history_trades": total, "history_loaded": loaded, "history_load_seconds": rnd(load_s),
            "history_fund_seconds": rnd(fund_s),
            "history_trades_per_s": rnd(loaded / load_s) if loaded and load_s else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trades", type=int, default=1_000_000)
    args = ap.parse_args()
    setup_django()
    result = ensure(args.trades)
    log(f"history: {result}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
