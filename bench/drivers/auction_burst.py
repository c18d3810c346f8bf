"""`auction_burst`: 1,000 bids from 200 organizations in the last 60 s of an English auction with
anti-sniping (#19), through the HTTP API of the bench stack (`POST /api/v1/listings/{id}/bids`).

Setup (this process, through the services): 200 bidding enterprises with a trader token and cash each;
the seller is the seed's first enterprise, which lists 100 units of a trading market's instrument through
the API (reserve 100.00, increment 0.10 yuan per unit, `anti_snipe_minutes` 1, the end 60 s after the
burst starts). The burst is open-loop: each bid has a planned send time in the last 60 s, denser towards
the end (density ∝ time: a third of the bids in the last 10 s, as snipers do), and `--clients` threads
(100) send them on time whatever the server's speed (`late_send_p99_s` says when they could not, all
of them waiting for answers). A bidder bids the best bid it knows (the highest any accepted bid
answered so far) plus 1–3 increments, so concurrent bids collide and some are refused
(`bid_below_increment`, 400): that is the point of the scenario, not an error.

Ceiling: the same schedule (same planned times, same clients) against the bare one-insert endpoint,
run while the auction waits for its (extended) end. The auction is closed as beat would close it
(`listing_close` once the database clock has passed the end), and its result (winner, price, end) is
compared with `reference()`, which replays the bids' log alone — the answers the clients got, nothing
read from the server's tables — by the English auction's rules. `tests/bench/test_auction_reference.py`
checks `reference()` against a hand-made log.

Prints one JSON object (the scenario's result) on stdout.
"""
from __future__ import annotations

import argparse
import http.client
import json
import queue
import random
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

from .common import load_seed, log, percentile, rnd

RESERVE = 10_000  # fen per unit (100.00 yuan)
INCREMENT = 10  # fen per unit (0.10 yuan)
QUANTITY = "100"  # units of the instrument
ANTI_SNIPE_MINUTES = 1
WINDOW_S = 60.0


# --- the reference: the English auction's rules over the bids' log ------------------------------------

def _utc(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _at(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def reference(log_rows: list[dict], *, reserve: int, increment: int, end_at, anti_snipe: timedelta) -> dict:
    """The auction's result computed from the bids' log alone (each row: `bidder`, `amount` in fen per
    unit, `status` (HTTP, None for no answer), `code` of a refusal, and for an accepted bid its `bid_id`
    and server time `bid_at`). The rules (the English mechanism of `trading.listings`): bids are taken one
    at a time (an accepted bid's id is its place in that order); the first is at least the reserve, each
    next beats the best by at least the increment; a bid is accepted only before the end; a bid accepted
    less than `anti_snipe` before the end moves the end later by `anti_snipe`; the highest bid wins and
    pays its amount. Returns the winner (bidder, bid id, price), the final end, the extensions, and the
    `problems`: answers that contradict the rules (which would mean the server or this log is wrong)."""
    end_at = _at(end_at)
    accepted = sorted((r for r in log_rows if r.get("status") == 201), key=lambda r: r["bid_id"])
    problems: list[str] = []
    best = None
    end = end_at
    extensions = 0
    for r in accepted:
        at = _at(r["bid_at"])
        if at >= end:
            problems.append(f"bid {r['bid_id']} accepted at {at.isoformat()} after the end {end.isoformat()}")
        if best is None and r["amount"] < reserve:
            problems.append(f"bid {r['bid_id']} accepted below the reserve")
        if best is not None and r["amount"] < best["amount"] + increment:
            problems.append(f"bid {r['bid_id']} accepted without beating bid {best['bid_id']} by the increment")
        if end - at < anti_snipe:
            end += anti_snipe
            extensions += 1
        best = r
    winner = max(accepted, key=lambda r: (r["amount"], -r["bid_id"]), default=None)
    if winner is not None and winner is not best:
        problems.append(f"the highest bid {winner['bid_id']} is not the last accepted {best['bid_id']}")
    for r in log_rows:  # refusals that the accepted bids contradict
        if r.get("code") == "bid_below_increment" and winner is not None \
                and r["amount"] >= winner["amount"] + increment:
            problems.append(f"a bid of {r['amount']} was refused as too low, above every accepted bid")
        if r.get("code") == "bid_below_reserve" and r["amount"] >= reserve:
            problems.append(f"a bid of {r['amount']} was refused as below the reserve {reserve}")
    return {"winner": winner["bidder"] if winner else None, "winner_bid": winner["bid_id"] if winner else None,
            "price": winner["amount"] if winner else None, "end_at": end, "extensions": extensions,
            "accepted": len(accepted), "problems": problems}


# --- the clients --------------------------------------------------------------------------------------

def _post(host: str, port: int, path: str, body: dict, token: str, timeout: float) -> tuple[int | None, dict, float]:
    """One POST on a fresh connection (gunicorn's sync workers close each one); (status, JSON, ms);
    status None for a time-out or a connection failure (the JSON then says which)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept-Language": "en",
               "Idempotency-Key": uuid.uuid4().hex}
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(body), headers)
        resp = conn.getresponse()
        raw = resp.read()
        status = resp.status
    except TimeoutError:
        return None, {"code": "timeout"}, (time.perf_counter() - t0) * 1000
    except OSError as e:
        return None, {"code": f"connection_error:{type(e).__name__}"}, (time.perf_counter() - t0) * 1000
    finally:
        conn.close()
    ms = (time.perf_counter() - t0) * 1000
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    return status, data if isinstance(data, dict) else {}, ms


def schedule(n: int, window: float, rng: random.Random) -> list[float]:
    """n send times in [0, window): density growing linearly with time (snipers come at the end)."""
    return sorted(window * (rng.random() ** 0.5) * 0.995 for _ in range(n))


def burst(base: str, path: str, jobs: list[tuple[float, int, str]], start: float, clients: int, timeout: float,
          make_body, on_answer=None) -> list[dict]:
    """Send each job (planned offset s, organization, token) at `start + offset` (wall clock) from
    `clients` threads; returns the log rows in job order. `make_body(org)` → (body, amount or None),
    called at send time; `on_answer(status, amount)` after each answer."""
    u = urlparse(base)
    work: queue.Queue = queue.Queue()
    for i, job in enumerate(jobs):
        work.put((i, job))
    rows: list[dict | None] = [None] * len(jobs)

    def client() -> None:
        while True:
            try:
                i, (offset, org, token) = work.get_nowait()
            except queue.Empty:
                return
            delay = start + offset - time.time()
            if delay > 0:
                time.sleep(delay)
            body, amount = make_body(org)
            sent = time.time()
            status, data, ms = _post(u.hostname, u.port, path, body, token, timeout)
            if on_answer is not None:
                on_answer(status, amount)
            rows[i] = {"seq": i, "bidder": org, "amount": amount, "planned_s": round(offset, 3),
                       "late_s": round(sent - start - offset, 3), "status": status, "ms": round(ms, 2),
                       "code": data.get("code") if status is None or status >= 400 else None, "data": data}

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for r in rows if r is not None]


def answers(rows: list[dict], expected: int) -> dict:
    """Counts of the answers: 2xx, 4xx by code, 5xx, time-outs and connection errors, unanswered."""
    ok = sum(1 for r in rows if r["status"] is not None and 200 <= r["status"] < 300)
    by_code = Counter(f"{r['status']} {r['code']}" for r in rows
                      if r["status"] is not None and 400 <= r["status"] < 500)
    e5 = sum(1 for r in rows if r["status"] is not None and r["status"] >= 500)
    timeouts = sum(1 for r in rows if r["status"] is None and r["code"] == "timeout")
    conn_errors = sum(1 for r in rows if r["status"] is None and r["code"] != "timeout")
    lat = [r["ms"] for r in rows if r["status"] is not None]
    return {"sent": len(rows), "http_2xx": ok, "http_4xx": sum(by_code.values()), "http_4xx_by_code": dict(by_code),
            "http_5xx": e5, "timeouts": timeouts, "connection_errors": conn_errors,
            "unanswered": expected - ok - sum(by_code.values()),
            "p50_ms": rnd(percentile(lat, 50)), "p99_ms": rnd(percentile(lat, 99)),
            "max_ms": rnd(max(lat, default=None)),
            "late_send_p99_s": rnd(percentile([r["late_s"] for r in rows], 99), 3)}


# --- setup and close (Django) -------------------------------------------------------------------------

def make_bidders(n: int, tag: str) -> list[tuple[int, str]]:
    """n trading enterprises over Fujian's counties, each with a trader token and 10M yuan."""
    from django.db import transaction

    from accounts.actor import Actor
    from accounts.models import Membership, Organization, Region, User
    from accounts.services import token_issue
    from accounts.uscc import make_uscc
    from ledger.services import cash_deposit

    system = Actor.system()
    counties = list(Region.objects.filter(level="county").order_by("code").values_list("code", flat=True))
    base = Organization.objects.count() + 1
    out = []
    for i in range(n):
        region = counties[i % len(counties)]
        with transaction.atomic():
            org = Organization.objects.create(kind="enterprise", name_zh=f"bench-bidder-{tag}-{i}",
                                              name_en=f"bench-bidder-{tag}-{i}", region_id=region,
                                              uscc=make_uscc(f"{region}7{base + i:08d}"))
            user = User.objects.create(username=f"bench-bidder-{tag}-{i}")
            user.set_unusable_password()
            user.save(update_fields=["password"])
            secret, _ = token_issue(membership=Membership.objects.create(user=user, organization=org, role="trader"))
        cash_deposit(actor=system, organization=org, amount=10**9, bank_reference=f"bench-bid-{org.id}",
                     idempotency_key=f"bench-bid-{org.id}")
        out.append((org.id, secret))
    return out


def close_when_due(listing_id: int, deadline: float) -> None:
    """Close the auction as beat's `close_due_listings` does, once the database clock is past its end."""
    from trading.listings.services import db_now, listing_close
    from trading.models import Listing

    while time.time() < deadline:
        listing = Listing.objects.get(pk=listing_id)
        if listing.status != "open":
            return
        if db_now() >= listing.end_at:
            listing_close(listing_id=listing_id)
            continue
        time.sleep(min(1.0, max(0.05, (listing.end_at - db_now()).total_seconds())))
    raise SystemExit("the auction did not close in time")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8442")
    ap.add_argument("--bids", type=int, default=1000)
    ap.add_argument("--bidders", type=int, default=200)
    ap.add_argument("--window", type=float, default=WINDOW_S)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=30.0, help="client time-out per request, seconds")
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--no-bare", action="store_true")
    args = ap.parse_args()
    from .common import setup_django

    setup_django()
    from django.urls import reverse

    from marketplace.models import Market
    from trading.listings.services import db_now
    from trading.models import Listing, Trade

    rng = random.Random(args.seed)
    seed = load_seed()
    tag = uuid.uuid4().hex[:6]
    t0 = time.time()
    bidders = make_bidders(args.bidders, tag)
    log(f"auction_burst: {len(bidders)} bidders made in {time.time() - t0:.1f} s")
    seller_token = seed["tokens"][0]
    asset = Market.objects.select_related("asset__right_type").get(pk=seed["markets"][0]).asset
    provenance = {f: "bench" for f in (asset.right_type.listing_provenance or {})}
    u = urlparse(args.base)
    lead = 3.0  # seconds between the listing's creation and the burst's first planned bid
    end_at = db_now() + timedelta(seconds=lead + args.window)
    status, data, _ = _post(u.hostname, u.port, reverse("listing-list"), {
        "kind": "english", "asset": asset.id, "quantity": QUANTITY, "reserve_price": f"{RESERVE / 100:.2f}",
        "min_increment": f"{INCREMENT / 100:.2f}", "end_at": end_at.isoformat(),
        "anti_snipe_minutes": ANTI_SNIPE_MINUTES, "provenance": provenance, "title": f"auction_burst {tag}"},
        seller_token, 30)
    if status != 201:
        raise SystemExit(f"could not create the auction: {status} {data}")
    listing_id = data["id"]
    end_initial = datetime.fromisoformat(data["end_at"])
    start = time.time() + (end_initial - db_now()).total_seconds() - args.window  # wall clock of end − window

    picks = [org for org, _ in bidders for _ in range(args.bids // len(bidders))]
    picks += [bidders[i % len(bidders)][0] for i in range(args.bids - len(picks))]
    rng.shuffle(picks)
    tokens = dict(bidders)
    offsets = schedule(args.bids, args.window, rng)
    jobs = [(off, org, tokens[org]) for off, org in zip(offsets, picks)]
    best = {"amount": None}
    lock = threading.Lock()
    body_rng = random.Random(args.seed + 1)

    def bid_body(org):
        with lock:
            known = best["amount"]
            k = body_rng.choice((1, 1, 2, 3))
        amount = RESERVE + (k - 1) * INCREMENT if known is None else known + k * INCREMENT
        return {"price": f"{amount // 100}.{amount % 100:02d}"}, amount

    bids_path = reverse("listing-bids", args=[listing_id])
    log(f"auction_burst: listing {listing_id}, end {end_initial.isoformat()}, {args.bids} bids from "
        f"{len(bidders)} organizations over the last {args.window:.0f} s, {args.clients} clients")

    def learn(status, amount):  # an accepted bid raises the best bid every bidder knows
        if status == 201:
            with lock:
                best["amount"] = max(best["amount"] or 0, amount)

    rows = burst(args.base, bids_path, jobs, start, args.clients, args.timeout, bid_body, learn)
    log_rows = []
    for r in rows:
        data = r.pop("data")
        if r["status"] == 201:
            r["bid_id"] = data["bid"]["id"]
            r["bid_at"] = data["bid"]["created_at"]
            r["end_at"] = data["listing"]["end_at"]
            r["extended"] = bool(data.get("extended"))
        log_rows.append(r)
    bids = answers(log_rows, args.bids)
    log(f"auction_burst: bids answered {bids}")

    bare = None
    if not args.no_bare:  # the ceiling: the same schedule against the bare insert, while the auction runs out
        bare_start = time.time() + 1
        bare_rows = burst(args.base, reverse("bench-rows"), jobs, bare_start, args.clients, args.timeout,
                          lambda org: ({"note": "auction_burst"}, None))
        bare = answers(bare_rows, args.bids)
        log(f"auction_burst: bare insert, same schedule: {bare}")
    close_when_due(listing_id, time.time() + 300)
    listing = Listing.objects.get(pk=listing_id)
    trade = Trade.objects.filter(listing_id=listing_id).first()
    settle_deadline = time.time() + 60
    while trade is not None and trade.status not in ("settled",) and time.time() < settle_deadline:
        time.sleep(0.5)
        trade.refresh_from_db()
    from accounts.models import AuditEvent

    extensions = AuditEvent.objects.filter(action="listing.bid", object_type="listing", object_id=str(listing_id),
                                           after__has_key="end_at_before").count()
    ref = reference(log_rows, reserve=RESERVE, increment=INCREMENT, end_at=end_initial,
                    anti_snipe=timedelta(minutes=ANTI_SNIPE_MINUTES))
    winner = trade.buyer_id if trade else None
    price = trade.price if trade else None
    matches = (not ref["problems"] and ref["winner"] == winner and ref["price"] == price
               and ref["end_at"] == listing.end_at and ref["extensions"] == extensions)
    result = {
        "bids": args.bids, "organizations": len(bidders), "clients": args.clients, "window_s": args.window,
        "anti_snipe_minutes": ANTI_SNIPE_MINUTES, "listing": listing_id, **bids,
        "all_answered": bids["unanswered"] == 0 and bids["http_5xx"] == 0 and bids["timeouts"] == 0,
        "bare_p50_ms": bare and bare["p50_ms"], "bare_p99_ms": bare and bare["p99_ms"],
        "bare_http_2xx": bare and bare["http_2xx"], "bare_unanswered": bare and bare["unanswered"],
        "p99_ratio_to_bare": rnd(bids["p99_ms"] / bare["p99_ms"], 2) if bare and bare["p99_ms"] else None,
        "extensions": extensions, "extended_answers": sum(1 for r in log_rows if r.get("extended")),
        "end_at_initial": _utc(end_initial), "end_at_final": _utc(listing.end_at),
        "closed_at": _utc(listing.closed_at), "status": listing.status,
        "winner": winner, "price_fen": price, "trade": trade.id if trade else None,
        "trade_status": trade.status if trade else None,
        "reference_winner": ref["winner"], "reference_price_fen": ref["price"],
        "reference_end_at": _utc(ref["end_at"]), "reference_extensions": ref["extensions"],
        "reference_problems": ref["problems"][:10], "result_matches_reference": matches,
    }
    from .common import STATE

    (STATE / "results" / "auction_burst-bids.json").write_text(json.dumps(log_rows, indent=0))  # the bids' log
    print(json.dumps(result))


if __name__ == "__main__":
    main()
