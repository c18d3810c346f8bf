"""The order API through HTTP: place, list, retrieve, cancel, reduce; who may trade; one test per bad
input (each a 4xx with a stable code that leaves no order and no hold behind); Idempotency-Key replays.

Prices are yuan strings with two decimals, quantities strings in the instrument's unit (scale 3 here).
"""
from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone

from accounts.actor import Actor
from ledger.models import Asset, LedgerTransaction
from marketplace.models import Market
from marketplace.services import market_set_status
from trading.models import Order, SettlementOutbox, Trade

from tests.support.ledger import balances

ORDERS = "/api/v1/orders"
CASH = 10_000_00  # 10,000 yuan
RIGHTS = 50_000  # 50 units


@pytest.fixture
def book(make_org, make_market, make_member, client_for, fund, fast_passwords):
    """A market (tick 0.10 yuan, lot 1 unit, minimum 2 units, ±10% band around 100.00 yuan, fees
    0.2% min 1 yuan), a buyer with 10,000 yuan and a seller with 50 units, each with a trader's client."""

    class Book:
        pass

    b = Book()
    b.market = make_market(tick_size=10, min_quantity=2000, price_band_bps=1000, fee_bps=20, fee_min=100)
    Market.objects.filter(pk=b.market.pk).update(reference_price=100_00)
    b.buyer, b.seller = make_org("enterprise", "350102"), make_org("enterprise", "350203")
    fund(b.buyer, cny=CASH)
    fund(b.seller, market=b.market, quantity=RIGHTS)
    b.buyer_client = client_for(make_member(b.buyer, "trader"))
    b.seller_client = client_for(make_member(b.seller, "trader"))
    b.cny = Asset.objects.get(code="CNY")
    return b


def body(market_, **kw):
    return {"market": market_.id, "side": "buy", "price": "100.00", "quantity": "2", **kw}


def state(b):
    """Everything a refused request must leave as it was."""
    return (balances(b.buyer, b.cny), balances(b.buyer, b.market.asset), balances(b.seller, b.cny),
            balances(b.seller, b.market.asset), Order.objects.count(), LedgerTransaction.objects.count())


# --- the happy paths ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_place_fill_list_retrieve_reduce_cancel(book):
    b = book
    r = b.seller_client.post(ORDERS, body(b.market, side="sell", price="100.00", quantity="10"), format="json")
    assert r.status_code == 201, r.json()
    sell = r.json()["order"]
    assert sell["status"] == "open" and sell["remaining"] == "10.000" and sell["held"] == "10.000"
    assert r.json()["fills"] == []
    assert balances(b.seller, b.market.asset) == (40_000, 10_000)

    r = b.buyer_client.post(ORDERS, body(b.market, price="101.00", quantity="4"), format="json")
    assert r.status_code == 201, r.json()
    order, fills = r.json()["order"], r.json()["fills"]
    assert order["status"] == "filled" and order["remaining"] == "0.000" and order["held"] == "0.00"
    assert order["filled_value"] == "400.00" and order["fees_charged"] == "1.00"
    assert len(fills) == 1
    assert {k: fills[0][k] for k in ("side", "price", "quantity", "value", "fee", "status", "market")} == {
        "side": "buy", "price": "100.00", "quantity": "4.000", "value": "400.00", "fee": "1.00",
        "status": "matched", "market": b.market.code}
    trade = Trade.objects.get(pk=fills[0]["id"])
    # buyer's escrow: 4 × 101.00 + max(1.00, 0.2% of 404.00) = 405.00, all of it moved to the trade
    assert trade.buyer_hold == 405_00 and trade.seller_hold == 4_000
    assert balances(b.buyer, b.cny) == (CASH - 405_00, 405_00)
    assert SettlementOutbox.objects.filter(trade=trade, status="pending").exists()

    r = b.seller_client.get(ORDERS)
    assert r.status_code == 200 and [o["id"] for o in r.json()["results"]] == [sell["id"]]
    assert r.json()["results"][0]["remaining"] == "6.000"
    assert b.seller_client.get(f"{ORDERS}/{sell['id']}").json()["remaining"] == "6.000"
    assert b.seller_client.get(ORDERS, {"status": "filled"}).json()["results"] == []

    r = b.seller_client.post(f"{ORDERS}/{sell['id']}/reduce", {"remaining": "2"}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["remaining"] == "2.000" and r.json()["quantity"] == "6.000" and r.json()["held"] == "2.000"
    assert balances(b.seller, b.market.asset) == (44_000, 6_000)  # 2 on the book, 4 in the trade
    r = b.seller_client.post(f"{ORDERS}/{sell['id']}/reduce", {"remaining": "3"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid_reduce"

    r = b.seller_client.post(f"{ORDERS}/{sell['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["held"] == "0.000"
    assert balances(b.seller, b.market.asset) == (46_000, 4_000)
    r = b.seller_client.post(f"{ORDERS}/{sell['id']}/cancel")
    assert r.status_code == 409 and r.json()["code"] == "order_not_open"


@pytest.mark.django_db
def test_placement_response_is_what_the_serializers_produce(book):
    """The placement response is built without serializer instances (trading.orderbook.serializers.order_data and
    fill_data); it must stay exactly what OrderSerializer and FillSerializer produce."""
    from trading.common.serializers import FillSerializer
    from trading.orderbook.serializers import OrderSerializer, fill_data, order_data

    b = book
    sell = b.seller_client.post(ORDERS, body(b.market, side="sell", price="100.00", quantity="10",
                                             client_order_id="s-1"), format="json").json()["order"]
    r = b.buyer_client.post(ORDERS, body(b.market, price="101.00", quantity="4"), format="json")
    b.seller_client.post(f"{ORDERS}/{sell['id']}/cancel")
    for order in Order.objects.select_related("market__asset"):
        assert order_data(order) == OrderSerializer(order).data
    trade = Trade.objects.select_related("market").get(pk=r.json()["fills"][0]["id"])
    listing_trade = Trade(id=99, market=None, asset_id=b.market.asset_id, source="listing", buyer_id=b.buyer.id,
                          seller_id=b.seller.id, price=123_45, quantity=1_500, value=185_18, buyer_fee=1_00,
                          seller_fee=2_00, status="settled", created_at=timezone.now(),
                          settled_at=timezone.now(), ledger_transaction_id=7, rule_version=None)
    for t in (trade, listing_trade):
        for org in (b.buyer.id, b.seller.id):
            ctx = {"scales": {t.asset_id: b.market.asset.scale}, "organization_id": org}
            assert fill_data(t, scale=b.market.asset.scale, organization_id=org) == FillSerializer(t, context=ctx).data
    assert r.json()["fills"][0] == FillSerializer(trade, context={
        "scales": {trade.asset_id: b.market.asset.scale}, "organization_id": b.buyer.id}).data


@pytest.mark.django_db
def test_another_organizations_order_is_not_found(book):
    b = book
    sell = b.seller_client.post(ORDERS, body(b.market, side="sell", quantity="3"), format="json").json()["order"]
    assert b.buyer_client.get(f"{ORDERS}/{sell['id']}").status_code == 404
    before = state(b)
    for action, payload in (("cancel", None), ("reduce", {"remaining": "2"})):
        r = b.buyer_client.post(f"{ORDERS}/{sell['id']}/{action}", payload, format="json")
        assert r.status_code == 404 and r.json()["code"] == "not_found", action
    assert state(b) == before
    assert b.buyer_client.get(ORDERS).json()["results"] == []
    assert b.buyer_client.get(f"{ORDERS}/999999999").status_code == 404


@pytest.mark.django_db
def test_who_may_trade(book, make_org, make_member, client_for, fund):
    b = book
    refused = [make_member(b.buyer, "viewer"), make_member(b.buyer, "approver"),
               make_member(make_org("regulator", "350100"), "admin"),
               make_member(make_org("exchange_operator", "350000"), "admin")]
    before = state(b)
    for membership in refused:
        r = client_for(membership).post(ORDERS, body(b.market), format="json")
        assert r.status_code == 403 and r.json()["code"] == "not_a_trader", membership.role
    assert state(b) == before
    # the viewer still reads its organization's orders
    assert client_for(refused[0]).get(ORDERS).status_code == 200
    # governments trade (a county selling its quota); an organization's admin trades too
    county = make_org("county_government", "350121")
    fund(county, market=b.market, quantity=5_000)
    r = client_for(make_member(county, "admin")).post(ORDERS, body(b.market, side="sell", quantity="5"), format="json")
    assert r.status_code == 201, r.json()
    # anonymous: 401
    from rest_framework.test import APIClient
    assert APIClient().post(ORDERS, body(b.market), format="json").status_code == 401


@pytest.mark.django_db
def test_suspended_organization_cannot_place(book):
    b = book
    b.buyer.status = "suspended"
    b.buyer.save(update_fields=["status"])
    before = state(b)
    r = b.buyer_client.post(ORDERS, body(b.market), format="json")
    assert r.status_code == 403 and r.json()["code"] == "organization_suspended"
    assert state(b) == before


# --- bad input: a 4xx with a stable code, and nothing left behind -------------------------------------

BAD = [
    # (case, request changes, status, code, field, field code)
    ("price off tick", dict(price="100.05"), 400, "price_off_tick", "price", None),
    ("price above band", dict(price="110.10"), 400, "price_outside_band", "price", None),
    ("price below band", dict(side="sell", price="89.90"), 400, "price_outside_band", "price", None),
    ("quantity off lot", dict(quantity="2.5"), 400, "quantity_off_lot", "quantity", None),
    ("below minimum", dict(quantity="1"), 400, "below_min_quantity", "quantity", None),
    ("insufficient funds", dict(quantity="100"), 400, "insufficient_balance", None, None),
    ("insufficient rights", dict(side="sell", quantity="51"), 400, "insufficient_balance", None, None),
    ("unknown market", dict(market=987654321), 404, "unknown_market", "market", "unknown_market"),
    ("too many decimals in price", dict(price="100.001"), 400, "too_many_decimals", "price", "too_many_decimals"),
    ("too many decimals in quantity", dict(quantity="2.0001"), 400, "too_many_decimals", "quantity",
     "too_many_decimals"),
    ("unknown field", dict(stop_price="99.00"), 400, "unknown_field", "stop_price", "unknown_field"),
    ("zero price", dict(price="0"), 400, "validation_error", "price", "positive"),
    ("negative price", dict(price="-100.00"), 400, "validation_error", "price", "positive"),
    ("zero quantity", dict(quantity="0"), 400, "validation_error", "quantity", "positive"),
    ("price not a number", dict(price="abc"), 400, "invalid_number", "price", "invalid_number"),
    ("price as a float", dict(price=100.0), 400, "invalid_number", "price", "invalid_number"),
    ("price too long", dict(price="1" * 41), 400, "invalid_number", "price", "invalid_number"),
    ("unknown side", dict(side="short"), 400, "validation_error", "side", "invalid_choice"),
    ("unknown time in force", dict(time_in_force="gtd"), 400, "validation_error", "time_in_force", "invalid_choice"),
    ("missing quantity", dict(quantity=None), 400, "validation_error", "quantity", "required"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("case,changes,status,code,field,field_code", BAD, ids=[c[0] for c in BAD])
def test_bad_input(book, case, changes, status, code, field, field_code):
    b = book
    payload = body(b.market, **changes)
    payload = {k: v for k, v in payload.items() if v is not None}
    client = b.seller_client if payload["side"] == "sell" else b.buyer_client
    before = state(b)
    r = client.post(ORDERS, payload, format="json", HTTP_IDEMPOTENCY_KEY=f"bad-{case}")
    assert r.status_code == status, r.json()
    assert r.json()["code"] == code, r.json()
    if field:
        assert field in r.json()["fields"], r.json()
    if field_code:
        assert r.json()["fields"][field][0]["code"] == field_code, r.json()
    assert state(b) == before


def _refused_with(b, code, status, **changes):
    before = state(b)
    r = b.buyer_client.post(ORDERS, body(b.market, **changes), format="json")
    assert r.status_code == status and r.json()["code"] == code, r.json()
    assert state(b) == before
    return r


@pytest.mark.django_db
def test_halted_market_refuses_orders_until_resumed(book, make_org, make_member, client_for):
    b = book
    resting = b.seller_client.post(ORDERS, body(b.market, side="sell", price="105.00"), format="json").json()["order"]
    operator = client_for(make_member(make_org("exchange_operator", "350000"), "admin"))
    regulator = client_for(make_member(make_org("regulator", "350100"), "admin"))
    for other in (b.buyer_client, regulator):  # regulators halt through oversight, within their jurisdiction
        assert other.post(f"/api/v1/markets/{b.market.id}/halt", {"reason": "x"}, format="json").status_code == 403
    r = operator.post(f"/api/v1/markets/{b.market.id}/halt", {"reason": "price anomaly"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "halted"
    _refused_with(b, "market_halted", 409)
    # cancelling stays possible on a halted market
    assert b.seller_client.post(f"{ORDERS}/{resting['id']}/cancel").status_code == 200
    r = operator.post(f"/api/v1/markets/{b.market.id}/resume", {"reason": "cleared"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "open"
    assert b.buyer_client.post(ORDERS, body(b.market), format="json").status_code == 201


@pytest.mark.django_db
def test_closed_market_refuses_orders(book):
    market_set_status(actor=Actor.system(), market=book.market, status="closed", reason="delisted")
    _refused_with(book, "market_closed", 409)


@pytest.mark.django_db
def test_operator_closes_market_and_open_orders_are_released(book, make_org, make_member, client_for):
    b = book
    sell = b.seller_client.post(ORDERS, body(b.market, side="sell", price="101.00", quantity="5"), format="json")
    buy = b.buyer_client.post(ORDERS, body(b.market, price="99.00", quantity="3"), format="json")
    assert sell.status_code == buy.status_code == 201
    url = f"/api/v1/markets/{b.market.id}/close"
    assert b.buyer_client.post(url, {"reason": "x"}, format="json").status_code == 403
    operator = client_for(make_member(make_org("exchange_operator", "350000"), "admin"))
    r = operator.post(url, {"reason": "instrument delisted"}, format="json", HTTP_IDEMPOTENCY_KEY="close-1")
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert operator.post(url, {"reason": "instrument delisted"}, format="json",
                         HTTP_IDEMPOTENCY_KEY="close-1").json() == r.json()
    for o in Order.objects.filter(market=b.market):
        assert (o.status, o.cancel_reason, o.hold_remaining) == ("cancelled", "market_closed", 0)
    assert balances(b.buyer, b.cny) == (CASH, 0) and balances(b.seller, b.market.asset) == (RIGHTS, 0)
    _refused_with(b, "market_closed", 409)
    r = operator.post(f"/api/v1/markets/{b.market.id}/resume", {"reason": "oops"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "market_closed"


@pytest.mark.django_db
def test_outside_trading_session(make_org, make_market, make_member, client_for, fund, fast_passwords):
    today = str(timezone.localtime().isoweekday())
    other_days = "".join(d for d in "1234567" if d != today)
    market = make_market(always_open=False, windows=[(time(9, 30), time(11, 30), other_days),
                                                     (time(13, 0), time(15, 0), other_days)])
    buyer = make_org()
    fund(buyer, cny=CASH)
    client = client_for(make_member(buyer, "trader"))
    cny = Asset.objects.get(code="CNY")
    r = client.post(ORDERS, body(market, quantity="1"), format="json")
    assert r.status_code == 409 and r.json()["code"] == "outside_trading_session", r.json()
    assert balances(buyer, cny) == (CASH, 0) and not Order.objects.exists()


@pytest.mark.django_db
def test_expired_instrument(book):
    b = book
    Asset.objects.filter(pk=b.market.asset_id).update(valid_to=timezone.localdate() - timedelta(days=1))
    _refused_with(b, "asset_expired", 400)
    before = state(b)
    r = b.seller_client.post(ORDERS, body(b.market, side="sell"), format="json")
    assert r.status_code == 400 and r.json()["code"] == "asset_expired"
    assert state(b) == before


# --- idempotency ----------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_idempotent_place_replays_the_original_response(book):
    b = book
    b.seller_client.post(ORDERS, body(b.market, side="sell", quantity="3"), format="json")
    payload = body(b.market, quantity="2", price="100.00")
    first = b.buyer_client.post(ORDERS, payload, format="json", HTTP_IDEMPOTENCY_KEY="buy-1")
    assert first.status_code == 201 and len(first.json()["fills"]) == 1
    after_first = state(b)
    replay = b.buyer_client.post(ORDERS, payload, format="json", HTTP_IDEMPOTENCY_KEY="buy-1")
    assert replay.status_code == 201 and replay.json() == first.json()
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert state(b) == after_first and Trade.objects.count() == 1
    assert Order.objects.filter(organization=b.buyer).count() == 1

    other = b.buyer_client.post(ORDERS, {**payload, "quantity": "3"}, format="json", HTTP_IDEMPOTENCY_KEY="buy-1")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"
    assert "quantity" in other.json()["message"]
    assert state(b) == after_first
    # the same key is another organization's own key
    r = b.seller_client.post(ORDERS, body(b.market, side="sell", quantity="2", price="101.00"), format="json",
                             HTTP_IDEMPOTENCY_KEY="buy-1")
    assert r.status_code == 201


@pytest.mark.django_db
def test_refused_request_is_not_stored_under_its_key(book, fund):
    b = book
    payload = body(b.market, quantity="100")
    r = b.buyer_client.post(ORDERS, payload, format="json", HTTP_IDEMPOTENCY_KEY="big")
    assert r.status_code == 400 and r.json()["code"] == "insufficient_balance"
    fund(b.buyer, cny=100_000_00)
    r = b.buyer_client.post(ORDERS, payload, format="json", HTTP_IDEMPOTENCY_KEY="big")
    assert r.status_code == 201


@pytest.mark.django_db
def test_idempotent_cancel_and_reduce(book):
    b = book
    sell = b.seller_client.post(ORDERS, body(b.market, side="sell", quantity="5"), format="json").json()["order"]
    first = b.seller_client.post(f"{ORDERS}/{sell['id']}/reduce", {"remaining": "3"}, format="json",
                                 HTTP_IDEMPOTENCY_KEY="reduce-1")
    replay = b.seller_client.post(f"{ORDERS}/{sell['id']}/reduce", {"remaining": "3"}, format="json",
                                  HTTP_IDEMPOTENCY_KEY="reduce-1")
    assert first.status_code == replay.status_code == 200 and replay.json() == first.json()
    assert balances(b.seller, b.market.asset) == (47_000, 3_000)

    first = b.seller_client.post(f"{ORDERS}/{sell['id']}/cancel", HTTP_IDEMPOTENCY_KEY="cancel-1")
    replay = b.seller_client.post(f"{ORDERS}/{sell['id']}/cancel", HTTP_IDEMPOTENCY_KEY="cancel-1")
    assert first.status_code == 200 and replay.status_code == 200 and replay.json() == first.json()
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert balances(b.seller, b.market.asset) == (RIGHTS, 0)
    # the key of the cancel names another request: reusing it on another path conflicts
    r = b.seller_client.post(ORDERS, body(b.market, side="sell"), format="json", HTTP_IDEMPOTENCY_KEY="cancel-1")
    assert r.status_code == 409 and r.json()["code"] == "idempotency_conflict"
    # without a key a second cancel is a conflict with the order's state
    r = b.seller_client.post(f"{ORDERS}/{sell['id']}/cancel")
    assert r.status_code == 409 and r.json()["code"] == "order_not_open"


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_with_one_key_place_one_order(book, client_for, make_member):
    """Two deliveries of one request at once, for more than half the buyer's cash: the second waits for
    the first, fails its own hold, and answers with the first one's stored response."""
    import threading

    b = book
    payload = body(b.market, quantity="60", price="100.00")
    clients = [b.buyer_client, client_for(make_member(b.buyer, "trader"))]
    barrier, results = threading.Barrier(2), [None, None]

    def send(i):
        from django.db import connection
        try:
            barrier.wait()
            results[i] = clients[i].post(ORDERS, payload, format="json", HTTP_IDEMPOTENCY_KEY="dup-1")
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [r.status_code for r in results] == [201, 201]
    assert results[0].json() == results[1].json()
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in results) == ["", "true"]
    assert Order.objects.filter(organization=b.buyer).count() == 1
