"""Not a test (no test_ prefix, never collected): `make test PYTEST_ARGS=tests/engine/prof_accept.py -s`
profiles N acceptances through the HTTP API on an engine market (cProfile, in process) and counts the SQL
statements of one acceptance. Written for #19's profile of the acceptance."""
import cProfile
import io
import os
import pstats
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.models import Market

N = int(os.environ.get("PROF_N", "300"))


@pytest.mark.django_db(transaction=True)
def test_profile_accept(make_org, make_market, make_member, client_for, fund, fast_passwords, engine_mode, settings):
    settings.ENGINE_EAGER = False
    settings.MAX_OPEN_ORDERS_PER_MARKET = 10**6
    settings.ORDER_RATE_LIMIT = "100000/s"
    market = make_market(tick_size=10, min_quantity=1000, price_band_bps=1000, fee_bps=20, fee_min=100,
                         always_open=True)
    Market.objects.filter(pk=market.pk).update(reference_price=100_00)
    buyer = make_org("enterprise", "350102")
    fund(buyer, cny=10**12)
    client = client_for(make_member(buyer, "trader"))
    body = {"market": market.id, "side": "buy", "price": "99.00", "quantity": "1"}
    for i in range(20):  # warm up: prepared statements, caches
        assert client.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY=f"w{i}").status_code == 202
    with CaptureQueriesContext(connection) as q:
        client.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="one")
    print(f"\n=== SQL statements of one acceptance: {len(q.captured_queries)}")
    for x in q.captured_queries:
        print("   ", x["sql"][:160].replace("\n", " "))
    def backend_cpu():
        pid = connection.connection.info.backend_pid
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    cpu0, db0, t0 = time.process_time(), backend_cpu(), time.perf_counter()
    for i in range(N):
        assert client.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY=f"c{i}").status_code == 202
    cpu, db, wall = time.process_time() - cpu0, backend_cpu() - db0, time.perf_counter() - t0
    print(f"=== no profiler, {N} acceptances: wall {1000 * wall / N:.2f} ms,"
          f" this process's CPU {1000 * cpu / N:.2f} ms,"
          f" its PostgreSQL backend's CPU {1000 * db / N:.2f} ms per acceptance")
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for i in range(N):
        r = client.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY=f"k{i}")
        assert r.status_code == 202
    prof.disable()
    dt = time.perf_counter() - t0
    print(f"=== {N} acceptances in {dt:.2f} s: {1000 * dt / N:.2f} ms each (wall, under cProfile)")
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats(key).print_stats(45)
        print(out.getvalue())
