"""What an integrator needs to connect things (#16 item 8): a trade names the caller's order (placement
fills, GET /trades) and the regulators' export names both orders; GET /orders names each order's trades;
every idempotent replay answers 200 with `Idempotent-Replayed: true`; the JSON-lines export accepts its
own content type."""
from __future__ import annotations

import csv
import io

import pytest

ORDERS = "/api/v1/orders"


@pytest.fixture
def book(make_market, make_org, fund, make_member, client_for, operator_org):
    market = make_market()
    buyer, seller = make_org("enterprise", "350102"), make_org("enterprise", "350203")
    fund(buyer, cny=100_000_000)
    fund(seller, market=market, quantity=100_000)
    return (market, client_for(make_member(buyer, "trader")), client_for(make_member(seller, "trader")),
            client_for(make_member(operator_org, "admin")))


def order(market, side, quantity="1", price="100.00"):
    return {"market": market.id, "side": side, "price": price, "quantity": quantity}


@pytest.mark.django_db
def test_trades_and_orders_link_both_ways(book):
    market, buy, sell, operator = book
    sells = [sell.post(ORDERS, order(market, "sell"), format="json").json()["order"]["id"] for _ in range(2)]
    placed = buy.post(ORDERS, order(market, "buy", quantity="2"), format="json").json()
    buy_id, fills = placed["order"]["id"], placed["fills"]
    trade_ids = [f["id"] for f in fills]
    assert [f["order"] for f in fills] == [buy_id, buy_id] and {f["listing"] for f in fills} == {None}
    assert placed["order"]["trades"] == sorted(trade_ids)

    listed = {t["id"]: t for t in buy.get("/api/v1/trades").json()["results"]}
    assert {listed[t]["order"] for t in trade_ids} == {buy_id}
    seller_view = {t["id"]: t for t in sell.get("/api/v1/trades").json()["results"]}
    assert sorted(seller_view[t]["order"] for t in trade_ids) == sells  # each party sees its own order
    assert buy.get(f"/api/v1/trades/{trade_ids[0]}").json()["order"] == buy_id

    orders = {o["id"]: o for o in sell.get(ORDERS).json()["results"]}
    assert sorted(t for s in sells for t in orders[s]["trades"]) == sorted(trade_ids)
    assert all(len(orders[s]["trades"]) == 1 for s in sells)
    assert buy.get(f"{ORDERS}/{buy_id}").json()["trades"] == sorted(trade_ids)

    raw = b"".join(operator.get("/api/v1/oversight/exports/trades.csv", {"lang": "en"}).streaming_content)
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert {(int(r["id"]), int(r["buy_order"]), int(r["sell_order"])) for r in rows} == {
        (t, buy_id, s) for t, s in zip(sorted(trade_ids), sells)}


@pytest.mark.django_db
def test_every_idempotent_replay_answers_200(book):
    market, buy, sell, _ = book
    first = sell.post(ORDERS, order(market, "sell"), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = sell.post(ORDERS, order(market, "sell"), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert "Idempotent-Replayed" not in first


@pytest.mark.django_db
def test_jsonl_export_accepts_its_content_type(book):
    *_, operator = book
    for path in ("/api/v1/oversight/exports/trades.jsonl", "/api/v1/oversight/exports/audit.jsonl",
                 "/api/v1/exports/journal.jsonl"):
        r = operator.get(path, HTTP_ACCEPT="application/x-ndjson")
        assert r.status_code == 200 and r["Content-Type"].startswith("application/x-ndjson"), path
