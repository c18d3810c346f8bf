"""The invariant suite: many concurrent clients make random deposits, orders, cancels, listing
purchases and auction bids across several markets while the Celery worker is SIGKILLed at random
moments and Redis is restarted once. Compensation between regions (periods funded into escrow, assessed,
approved by four eyes in each province, settled with the escrow released, also by the worker's tick) and
paired-assistance payments (maker–checker) run in the same mix (tests/support/compensation_mix.py).
One of the markets is matched by the sequenced matching engine
(#19), a process of its own (`manage.py matching_engine`) that is SIGKILLed at random too; its orders
are accepted and cancelled through `order_accept` / `order_cancel_request`. At the end, whatever happened:

* every asset is conserved (all balances, issuance included, sum to zero) and no participant bucket
  is negative;
* every trade settled exactly once, or failed with its escrow released; every funded compensation period
  held once, every settled assessment settled once (none twice, none for another), every confirmed
  assistance payment posted once;
* each organization's held balance equals its open exposure (open orders, open listings, active bids,
  unsettled trades, the escrow of funded unsettled compensation periods);
* `verify_ledger` passes after sealing.

Seeded and reproducible in what the clients *ask* (thread interleavings are the operating system's);
the seed is printed. `make test` runs a short round; `make soak` (SOAK=1) a long one. Set
INVARIANT_SEED to replay a seed.
"""
from __future__ import annotations

import os
import random
import threading
import time
from collections import defaultdict
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.db.models import Sum
from django.utils import timezone

from accounts.actor import Actor
from core.errors import ApiError
from ledger.models import Account, Asset, LedgerTransaction
from ledger.services import cash_deposit
from trading.listings.services import listing_bid, listing_buy, listing_close, listing_create
from trading.models import Bid, Listing, Order, OrderRequest, Trade
from trading.orderbook.engine import engine_matched, order_accept, order_cancel_request
from trading.orderbook.services import order_cancel, order_place
from trading.tasks import settlement_sweep

from tests.support.celery import assert_ledger_verifies, wait_for
from tests.support.compensation_mix import CompensationMix
from tests.support.engine import EngineProcess

SOAK = os.environ.get("SOAK") == "1"
CLIENTS = 8 if SOAK else 4
SECONDS = 240 if SOAK else 14
TERMINAL = {"settled", "failed", "rejected"}

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def _seed() -> int:
    seed = int(os.environ.get("INVARIANT_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\ninvariant suite seed: {seed} (replay with INVARIANT_SEED={seed})")
    return seed


class World:
    def __init__(self, make_org, make_market, fund, make_member=None, seed=0):
        self.markets = [make_market(region=r, fee_bps=10, fee_min=100) for r in ("350121", "350181", "350203")]
        self.orgs = [make_org("enterprise", r) for r in ("350102", "350203", "350581", "350104", "350205", "350602")]
        for org in self.orgs:
            fund(org, cny=50_000_000)  # ¥500,000 each
            for m in self.markets:
                fund(org, market=m, quantity=200 * 1000)  # 200 t of each
        seller = self.orgs[0]
        asset = self.markets[0].asset
        now = timezone.now()
        self.fixed = listing_create(actor=Actor.system(), seller=seller, kind="fixed_price", asset_id=asset.id,
                                    quantity=50 * 1000, price=10_000, divisible=True, min_purchase=1000,
                                    provenance={"reduction_measure": "脱硫改造", "discharge_permit_no": "P-1"})
        self.auction = listing_create(actor=Actor.system(), seller=self.orgs[1], kind="english",
                                      asset_id=self.markets[1].asset.id, quantity=20 * 1000, reserve_price=9_000,
                                      min_increment=100, start_at=now, end_at=now + timedelta(seconds=SECONDS // 2),
                                      provenance={"reduction_measure": "超低排放", "discharge_permit_no": "P-2"})
        self.cny = Asset.objects.get(code="CNY")
        self.comp = CompensationMix(make_org, make_member, fund, seed) if make_member else None


def _client(world: World, rng: random.Random, deadline: float, errors: list, counts: dict):
    org = rng.choice(world.orgs)
    actor = Actor(user_id=None, organization_id=org.id, role="trader", organization_kind=org.kind)
    try:
        while time.monotonic() < deadline:
            op = rng.random()
            try:
                if world.comp is not None and rng.random() < 0.2:  # compensation and assistance (one in five)
                    counts[world.comp.op(rng)] += 1
                    continue
                if op < 0.55:
                    m = rng.choice(world.markets)
                    place = order_accept if engine_matched(m.id) else order_place
                    place(actor=actor, organization=org, market_id=m.id, side=rng.choice(["buy", "sell"]),
                          price=rng.randint(95, 105) * 100, quantity=rng.randint(1, 5) * 1000,
                          time_in_force=rng.choice(["gtc", "gtc", "gtc", "ioc", "fok", "day"]))
                elif op < 0.75:
                    mine = list(Order.objects.filter(organization=org, status__in=("open", "accepted"))
                                .values_list("id", "market_id")[:20])
                    if mine:
                        order_id, market_id = rng.choice(mine)
                        cancel = order_cancel_request if engine_matched(market_id) else order_cancel
                        cancel(actor=actor, organization=org, order_id=order_id)
                elif op < 0.83:
                    listing_buy(actor=actor, buyer=org, listing_id=world.fixed.id, quantity=rng.randint(1, 3) * 1000)
                elif op < 0.93:
                    best = Bid.objects.filter(listing=world.auction, status="active").order_by("-amount").first()
                    amount = (best.amount if best else 9_000) + 100 * rng.randint(1, 3)
                    listing_bid(actor=actor, bidder=org, listing_id=world.auction.id, amount=amount)
                else:
                    key = f"inv-{org.id}-{rng.getrandbits(40)}"
                    cash_deposit(actor=Actor.system(), organization=org, amount=rng.randint(1, 100) * 10_000,
                                 bank_reference=key, idempotency_key=key)
                counts["ok"] += 1
            except ApiError as exc:  # refusals are part of the game (no funds, listing sold out, outbid...)
                counts[exc.code] += 1
    except BaseException as exc:  # noqa: BLE001 - anything else is a bug the suite must report
        errors.append(repr(exc))
    finally:
        close_old_connections()
        connection.close()


def _chaos(worker, redis, rng: random.Random, deadline: float, log: list, engine=None):
    redis_bounced = False
    while time.monotonic() < deadline - 2:
        time.sleep(rng.uniform(1.0, 3.0))
        if not redis_bounced and redis.controllable and rng.random() < 0.5:
            redis.stop()
            log.append("redis stopped")
            time.sleep(rng.uniform(0.5, 1.5))
            redis.start()
            log.append("redis started")
            redis_bounced = True
        elif engine is not None and rng.random() < 0.5:
            engine.kill()
            log.append("engine killed")
            time.sleep(rng.uniform(0.1, 0.8))
            engine.start()
            log.append("engine started")
        else:
            worker.kill()
            log.append("worker killed")
            time.sleep(rng.uniform(0.1, 0.8))
            worker.start()
            log.append("worker started")
    if not redis_bounced and redis.controllable:
        redis.stop()
        redis.start()
        log.append("redis bounced at the end")


def _sweeper(stop: threading.Event, comp: CompensationMix | None = None):
    try:
        while not stop.is_set():
            try:
                settlement_sweep(after_seconds=1.0)
                if comp is not None:
                    comp.tick()
            except Exception:  # noqa: BLE001 - broker down: beat would just try again
                pass
            stop.wait(1.0)
    finally:
        connection.close()


def _exposure(comp: CompensationMix | None = None) -> dict[tuple[int, int], int]:
    """(organization, asset) → escrow that should be held for open orders, listings, bids, trades and funded
    compensation periods."""
    cny = Asset.objects.get(code="CNY").id
    out: dict[tuple[int, int], int] = defaultdict(int)
    for org, side, asset, held in Order.objects.filter(status__in=("open", "accepted")).values_list(
            "organization_id", "side", "market__asset_id", "hold_remaining"):
        out[(org, cny if side == "buy" else asset)] += held
    open_listings = Listing.objects.filter(status="open")
    for org, asset, held in open_listings.values_list("seller_id", "asset_id", "hold_remaining"):
        out[(org, asset)] += held
    for org, held in Bid.objects.filter(status="active").values_list("bidder_id", "hold"):
        out[(org, cny)] += held
    for t in Trade.objects.exclude(status__in=TERMINAL):
        out[(t.buyer_id, cny)] += t.buyer_hold
        out[(t.seller_id, t.asset_id)] += t.seller_hold
    if comp is not None:
        comp.exposure(out, cny)
    return out


def test_invariants_under_concurrency_and_faults(celery_worker, make_org, make_market, fund, operator_org, settings,
                                                request, make_member):
    seed = _seed()
    world = World(make_org, make_market, fund, make_member, seed)
    redis = celery_worker.redis
    settings.ENGINE_MARKETS = [world.markets[0].id]  # one market matched by the engine, the others inline
    engine = EngineProcess(celery_worker.env, engine_markets=settings.ENGINE_MARKETS)
    engine.start()
    request.addfinalizer(engine.kill)  # never left running against the next test's database
    deadline = time.monotonic() + SECONDS
    errors: list[str] = []
    counts: dict[str, int] = defaultdict(int)
    chaos_log: list[str] = []
    stop = threading.Event()
    clients = [threading.Thread(target=_client, args=(world, random.Random(seed + i), deadline, errors, counts))
               for i in range(CLIENTS)]
    chaos = threading.Thread(target=_chaos, args=(celery_worker, redis, random.Random(seed), deadline, chaos_log,
                                                  engine))
    sweeper = threading.Thread(target=_sweeper, args=(stop, world.comp))
    for t in [*clients, chaos, sweeper]:
        t.start()
    for t in [*clients, chaos]:
        t.join()
    print(f"operations: {dict(counts)}; chaos: {chaos_log}")
    assert not errors, errors

    # the auction ends; the close awards it (as beat would), then everything must settle or fail
    wait_for(lambda: timezone.now() >= Listing.objects.get(pk=world.auction.id).end_at, timeout=SECONDS)
    listing_close(listing_id=world.auction.id)
    celery_worker.ensure_running()
    engine.ensure_running()  # the engine takes every accepted order and queued cancel, whatever was killed
    try:
        wait_for(lambda: not OrderRequest.objects.exists() and not Order.objects.filter(status="accepted").exists(),
                 timeout=120, message=lambda: f"the engine to drain its queue\n{engine.log_tail()}")
    finally:
        engine.stop()
    assert Order.objects.filter(market=world.markets[0]).exclude(status="accepted").exists()
    unfinished = Trade.objects.exclude(status__in=TERMINAL)
    wait_for(lambda: not unfinished.exists(), timeout=120,
             message=lambda: f"all trades to finish: {list(unfinished.values_list('id', 'status')[:10])}\n"
                             f"{celery_worker.log_tail()}")
    stop.set()
    sweeper.join()
    assert counts["ok"] > 20 and Trade.objects.count() > 5, "the run did too little to prove anything"
    # compensation: what the run left open is approved and settled now (the worker may still be ticking)
    world.comp.drain()

    # conservation and no negative balance
    for asset_id, total in Account.objects.values("asset_id").annotate(t=Sum("available") + Sum("held")).values_list(
            "asset_id", "t"):
        assert total == 0, f"asset {asset_id} not conserved: {total}"
    assert not Account.objects.exclude(kind="issuance").filter(available__lt=0).exists()
    assert not Account.objects.exclude(kind="issuance").filter(held__lt=0).exists()

    # every trade settled exactly once, or failed with its escrow released
    settles = defaultdict(int)
    for ref in LedgerTransaction.objects.filter(kind="settle", reference_type="trade").values_list("reference_id",
                                                                                                  flat=True):
        settles[int(ref)] += 1
    for trade_id, status in Trade.objects.values_list("id", "status"):
        assert settles[trade_id] == (1 if status == "settled" else 0), (trade_id, status, settles[trade_id])

    # held balances equal open exposure
    expected = _exposure(world.comp)
    for org_id, asset_id, held in Account.objects.filter(kind="participant").values_list(
            "organization_id", "asset_id", "held"):
        assert held == expected.get((org_id, asset_id), 0), (org_id, asset_id, held, expected.get((org_id, asset_id)))

    # compensation and assistance: exactly once, and the run did enough of each to prove something
    done = world.comp.check()
    print(f"compensation and assistance: {done}")
    assert done["periods"].get("settled", 0) >= 2 and done["assistance_confirmed"] >= 1, done

    assert_ledger_verifies()
