"""Listings under concurrent clients (committed transactions, one database connection per thread):
first come first served on a fixed-price lot, and racing bids on an English auction — no double sale,
exactly one active bid, holds equal open exposure."""
import random
import threading

import pytest
from django.db import connection

from accounts.actor import Actor
from core.errors import ApiError
from trading.listings.services import listing_bid, listing_buy, listing_create
from trading.models import Bid, Trade

from tests.support.listings import FARMLAND_PROVENANCE, YUAN

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Trades commit here, so their settlement nudges would really be published: keep them local."""
    monkeypatch.setattr("trading.settlement.outbox.send_settlement", lambda trade_id, queue: True)


def run_all(jobs):
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(i, job):
        try:
            barrier.wait(timeout=10)
            results[i] = ("ok", job())
        except ApiError as exc:
            results[i] = ("error", exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_an_indivisible_lot_is_sold_once(lworld):
    w = lworld
    listing = listing_create(actor=Actor.system(), seller=w.county, kind="fixed_price", asset_id=w.farmland.id,
                             quantity=250_00, price=45_000 * YUAN, provenance=FARMLAND_PROVENANCE)
    jobs = [lambda b=b: listing_buy(actor=Actor.system(), buyer=b, listing_id=listing.id, quantity=250_00).trade.id
            for b in w.buyers]
    results = run_all(jobs)
    assert sorted(r[0] for r in results) == ["error", "error", "ok"], results
    assert {r[1] for r in results if r[0] == "error"} == {"listing_not_open"}
    assert Trade.objects.filter(listing_id=listing.id).count() == 1
    w.check_exposure()


def test_racing_bids_leave_exactly_one_active_bid(lworld):
    w = lworld
    from datetime import timedelta

    from trading.listings.services import db_now

    listing = listing_create(actor=Actor.system(), seller=w.county, kind="english", asset_id=w.farmland.id,
                             quantity=100_00, reserve_price=40_000 * YUAN, min_increment=100 * YUAN,
                             end_at=db_now() + timedelta(hours=1), provenance=FARMLAND_PROVENANCE)
    rng = random.Random(7)
    amounts = [40_000 * YUAN + rng.randrange(0, 50) * 100 * YUAN for _ in range(12)]
    jobs = [lambda b=w.buyers[i % 3], a=a: listing_bid(actor=Actor.system(), bidder=b, listing_id=listing.id,
                                                       amount=a).bid.id
            for i, a in enumerate(amounts)]
    results = run_all(jobs)
    assert {r[1] for r in results if r[0] == "error"} <= {"bid_below_increment"}, results
    accepted = Bid.objects.filter(listing=listing).order_by("id")
    assert accepted.count() == sum(1 for r in results if r[0] == "ok")
    active = [b for b in accepted if b.status == "active"]
    assert len(active) == 1 and active[0].amount == max(b.amount for b in accepted)
    previous = None
    for bid in accepted:  # every accepted bid beat the one before it by the increment
        assert previous is None or bid.amount >= previous + 100 * YUAN
        previous = bid.amount
    w.check_exposure()
