"""`console`: server time of the web console's main pages, signed in through the console's own login
form, over the bench history (`bench.drivers.history`: 1M settled trades through the product's bulk
path; built here when missing).
Pages: the market list, a market page and its chart data, the regulator dashboard and its chart data
(flow roll-ups), the trade search, and an enterprise desk. Each page is fetched `--rounds` times in turn;
the result has p50/p99 per page and over all pages (ms, wall time seen by the client on loopback).

Creates (idempotently) a provincial regulator membership and an enterprise membership for a user
`bench-console` with a password, so the real session login is used."""
from __future__ import annotations

import argparse
import json
import re
import time

from . import history
from .common import log, percentile, rnd, setup_django

PASSWORD = "bench-console-Pass-2026!"


def _users() -> tuple[str, int, int, int]:
    from accounts.models import Membership, Organization, User
    from accounts.uscc import make_uscc
    from marketplace.models import Market

    regulator = Organization.objects.filter(kind="regulator", jurisdiction_id="350000").first()
    if regulator is None:
        regulator = Organization.objects.create(kind="regulator", name_zh="bench-regulator", region_id="350000",
                                                jurisdiction_id="350000", uscc=make_uscc("350000900000003"))
    enterprise = Organization.objects.filter(kind="enterprise").order_by("id").first()
    user = User.objects.filter(username="bench-console").first()
    if user is None:
        user = User.objects.create_user(username="bench-console", password=PASSWORD)
    for org, role in ((regulator, "approver"), (enterprise, "trader")):
        Membership.objects.get_or_create(user=user, organization=org, defaults={"role": role})
    # a market of the history (~40k trades each at 1M) when there is one, else the first
    market = Market.objects.filter(code__startswith="bench-r-").order_by("id").first() or \
        Market.objects.order_by("id").first()
    return user.username, regulator.id, market.id, enterprise.id


def _session(base: str, organization: int):
    import requests

    s = requests.Session()
    page = s.get(base + "/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    r = s.post(base + "/login/", data={"csrfmiddlewaretoken": token, "username": "bench-console",
                                        "password": PASSWORD, "organization": str(organization)},
               headers={"Referer": base + "/login/"}, timeout=30, allow_redirects=False)
    if r.status_code != 302:
        raise RuntimeError(f"console login failed: {r.status_code} {r.text[:300]}")
    return s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--trades", type=int, default=1_000_000)
    args = ap.parse_args()
    setup_django()
    history.ensure(args.trades)
    _, regulator_id, market_id, enterprise_id = _users()
    regulator = _session(args.base, regulator_id)
    enterprise = _session(args.base, enterprise_id)
    pages = [("markets", regulator, "/"), ("market", regulator, f"/markets/{market_id}/"),
             ("market_data", regulator, f"/markets/{market_id}/data.json"),
             ("regulator", regulator, "/regulator/"), ("regulator_data", regulator, "/regulator/data.json"),
             ("trade_search", regulator, "/regulator/trades/"), ("desk", enterprise, "/desk/")]
    times: dict[str, list[float]] = {name: [] for name, _, _ in pages}
    for _ in range(args.rounds):
        for name, session, path in pages:
            t0 = time.perf_counter()
            r = session.get(args.base + path, timeout=60)
            times[name].append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"{path}: {r.status_code}")
    every = [t for ts in times.values() for t in ts]
    result = {"scenario": "console", "rounds": args.rounds,
              "p50_ms": rnd(percentile(every, 50)), "p99_ms": rnd(percentile(every, 99)),
              "pages": {name: {"p50_ms": rnd(percentile(ts, 50)), "p99_ms": rnd(percentile(ts, 99))}
                        for name, ts in times.items()}}
    log(f"console pages: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
