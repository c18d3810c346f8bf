"""`book_depth`: order placement latency (p50, through HTTP, one client) with 100k resting orders in the
book ÷ with 1k (goal ≤ 1.25: placement must not scan the book).

Two fee-free markets of the same kind: one book holds ~1k resting orders, the other ~100k, both
bulk-inserted with their escrow (`common.rest_orders`: INSERT … SELECT generate_series, one ledger
hold transaction per batch) by a maker organization. Placements alternate between the two books, one
request at a time, so both see the same background load. The measured orders come from four other
organizations: half rest within the book's price range, half cross (one lot IOC at the far side of
the asks, taking the best ask)."""
from __future__ import annotations

import argparse
import http.client
import json
import random
import time
from urllib.parse import urlparse

from .common import load_seed, log, percentile, rnd, setup_django

ASK_LO, ASK_HI = 10_001, 10_500  # fen
BID_LO, BID_HI = 9_500, 9_999


class Client:
    """One HTTP/1.1 client, reconnecting when the server closes (gunicorn's sync workers always do)."""

    def __init__(self, base: str):
        u = urlparse(base)
        self.host, self.port, self.conn = u.hostname, u.port, None

    def post(self, path: str, body: dict, headers: dict) -> tuple[int, bytes, float]:
        t0 = time.perf_counter()
        self.conn = self.conn or http.client.HTTPConnection(self.host, self.port, timeout=30)
        self.conn.request("POST", path, json.dumps(body), headers)
        resp = self.conn.getresponse()
        data = resp.read()
        dt = (time.perf_counter() - t0) * 1000
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return resp.status, data, dt


def order_body(market: int, i: int, rng: random.Random) -> dict:
    if i % 2:
        return {"market": market, "side": "buy", "price": f"{ASK_HI / 100:.2f}", "quantity": "1",
                "time_in_force": "ioc"}
    if rng.random() < 0.5:
        return {"market": market, "side": "buy", "price": f"{rng.randint(BID_LO, BID_HI) / 100:.2f}", "quantity": "1"}
    return {"market": market, "side": "sell", "price": f"{rng.randint(ASK_LO, ASK_HI) / 100:.2f}", "quantity": "1"}


def measure(client: Client, seed: dict, n: int, rng: random.Random, path: str) -> dict:
    """n placements on each book, alternating; latencies of the 201s per book."""
    lat = {"small": [], "large": []}
    errors, last_error = 0, None
    for i in range(n):
        token = seed["depth_taker_tokens"][i % len(seed["depth_taker_tokens"])]
        # each kind of order (i % 2: crossing or resting) goes first to each book equally often: a trade makes
        # the worker settle during the next request, which must not always be the same book's
        for book in ("small", "large") if (i // 2) % 2 else ("large", "small"):
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                       "Idempotency-Key": f"depth-{time.time_ns()}-{book}-{i}"}
            status, data, ms = client.post(path, order_body(seed["depth_markets"][book], i, rng), headers)
            if status == 201:
                lat[book].append(ms)
            else:
                errors += 1
                last_error = f"{status} {data[:200]!r}"
    return {"lat": lat, "errors": errors, "last_error": last_error}


def book_size(market_id: int) -> int:
    from trading.models import Order

    return Order.objects.filter(market_id=market_id, status="open").count()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8442")
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--large", type=int, default=100_000)
    ap.add_argument("--orders", type=int, default=300, help="measured placements per book")
    args = ap.parse_args()
    setup_django()
    from django.db import connection

    from marketplace.models import Market
    from trading.orderbook.services import market_roll_session

    from .common import rest_orders

    seed = load_seed()
    t0 = time.monotonic()
    for book, size in (("small", args.small), ("large", args.large)):
        market_id = seed["depth_markets"][book]
        market_roll_session(market_id=market_id)  # the session is open: inserted orders belong to it
        market = Market.objects.select_related("asset").get(pk=market_id)
        rest_orders(market, seed["depth_maker"], side="sell", count=size // 2, price_lo=ASK_LO, price_hi=ASK_HI)
        rest_orders(market, seed["depth_maker"], side="buy", count=size - size // 2, price_lo=BID_LO, price_hi=BID_HI)
    with connection.cursor() as cur:
        cur.execute("ANALYZE trading_order")
    log(f"books of {args.small} and {args.large} resting orders inserted in {time.monotonic() - t0:.1f} s")

    from django.urls import reverse

    path = reverse("order-list")
    rng = random.Random(7)
    client = Client(args.base)
    measure(client, seed, 30, rng, path)  # warm-up
    r = measure(client, seed, args.orders, rng, path)
    small, large = r["lat"]["small"], r["lat"]["large"]
    if not small or not large:
        raise SystemExit(f"no placement was accepted on one of the books: {r['last_error']}")
    p50_s, p50_l = percentile(small, 50), percentile(large, 50)
    sizes = {b: book_size(m) for b, m in seed["depth_markets"].items()}
    log(f"placement p50: {p50_s or 0:.1f} ms at {sizes['small']} resting, {p50_l or 0:.1f} ms at {sizes['large']}")
    print(json.dumps({
        "p50_1k_ms": rnd(p50_s, 2), "p99_1k_ms": rnd(percentile(small, 99), 2),
        "p50_100k_ms": rnd(p50_l, 2), "p99_100k_ms": rnd(percentile(large, 99), 2),
        "ratio_100k_to_1k": round(p50_l / p50_s, 3) if p50_s and p50_l else None,
        "book_small": sizes["small"], "book_large": sizes["large"], "orders_per_book": args.orders,
        "errors": r["errors"], "last_error": r["last_error"],
    }))


if __name__ == "__main__":
    main()
