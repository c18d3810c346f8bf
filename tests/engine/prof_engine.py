"""Not a test (no test_ prefix, never collected): `make test PYTEST_ARGS=tests/engine/prof_engine.py -s`
accepts N orders of the bench's mix (60 % resting 1..50 ticks off the mid, 40 % crossing 60 ticks through
it, half IOC) from 40 organizations on one market, then drains the market's engine in this process and
reports its CPU (this process and its PostgreSQL backend) per order, batch sizes as the bench sees them,
and a cProfile of the drain. Written for #19's profile of the engine's batch."""
import cProfile
import io
import os
import pstats
import random
import time

import pytest
from django.db import connection

from accounts.actor import Actor
from marketplace.models import Market
from trading.orderbook import engine

N = int(os.environ.get("PROF_N", "2000"))
BATCH = int(os.environ.get("PROF_BATCH", "20"))


def backend_cpu():
    pid = connection.connection.info.backend_pid
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.django_db(transaction=True)
def test_profile_engine(make_org, make_market, make_member, fund, fast_passwords, engine_mode, settings):
    settings.ENGINE_EAGER = False
    settings.MAX_OPEN_ORDERS_PER_MARKET = 10**6
    market = make_market(tick_size=1, min_quantity=1000, price_band_bps=1000, fee_bps=20, fee_min=100,
                         always_open=True)
    Market.objects.filter(pk=market.pk).update(reference_price=100_00)
    orgs = []
    for _ in range(40):
        org = make_org("enterprise", "350102")
        fund(org, cny=10**12)
        fund(org, market=market, quantity=10**9)
        orgs.append((org, make_member(org, "trader")))
    rnd = random.Random(19)

    def accept(n):
        for _ in range(n):
            org, member = rnd.choice(orgs)
            buy = rnd.random() < 0.5
            r = rnd.random()
            if r < 0.6:
                off = rnd.randint(1, 50)
                price, tif = (10_000 - off if buy else 10_000 + off), "gtc"
            else:
                price, tif = (10_000 + 60 if buy else 10_000 - 60), ("ioc" if r < 0.8 else "gtc")
            engine.order_accept(actor=Actor(user_id=member.user_id, organization_id=org.id, role="trader"),
                                organization=org, market_id=market.id, side="buy" if buy else "sell", price=price,
                                quantity=rnd.randint(1, 5) * 1000, time_in_force=tif)

    def run(eng, n):
        accept(n)
        steps = 0
        while eng.step():
            steps += 1
        return steps

    eng = engine.Engine(market.id, batch=BATCH)
    assert eng.acquire()
    run(eng, 400)  # warm up, and a book to match against
    cpu = db = wall = 0.0
    for _ in range(N // BATCH):  # batches of BATCH, as a busy engine takes them; only the step is timed
        accept(BATCH)
        c, d, w = time.process_time(), backend_cpu(), time.perf_counter()
        eng.step()
        cpu += time.process_time() - c
        db += backend_cpu() - d
        wall += time.perf_counter() - w
    n = (N // BATCH) * BATCH
    print(f"\n=== engine, {n} orders in batches of {BATCH}: wall {1000 * wall / n:.3f} ms, this process's CPU"
          f" {1000 * cpu / n:.3f} ms, its PostgreSQL backend's CPU {1000 * db / n:.3f} ms per order")
    from collections import defaultdict

    from django.test.utils import CaptureQueriesContext
    agg = defaultdict(lambda: [0, 0.0])
    steps = 0
    for _ in range(min(100, N // BATCH)):  # the statements of a batch, by wall time
        accept(BATCH)
        with CaptureQueriesContext(connection) as q:
            eng.step()
        steps += 1
        for x in q.captured_queries:
            key = " ".join(x["sql"].split())[:90]
            agg[key][0] += 1
            agg[key][1] += float(x["time"])
    print(f"=== statements per batch of {BATCH} (ms of wall per batch)")
    for key, (n, t) in sorted(agg.items(), key=lambda kv: -kv[1][1])[:25]:
        print(f"  {1000 * t / steps:7.3f} ms  {n / steps:5.2f}×  {key}")
    prof = cProfile.Profile()
    for _ in range(N // BATCH):
        accept(BATCH)
        prof.enable()
        eng.step()
        prof.disable()
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats(key).print_stats(50)
        print(out.getvalue())
    out = io.StringIO()  # which statements the batch's time goes to
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_callers("execute' of 'psycopg2")
    stats.print_callers("commit' of 'psycopg2")
    print(out.getvalue())
    eng.release()
