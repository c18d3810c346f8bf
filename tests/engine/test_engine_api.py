"""The order API on a market matched by the engine (#19): 202 with the order as accepted; `Prefer: wait`
answers as before (201 with the fills; 200 for cancel and reduce) once the engine has taken the request;
refusals are the same 4xx as inline, leaving nothing behind; idempotent replays; every change audited.
The engine runs in the test process after commit (`ENGINE_EAGER`), or not at all (then `Prefer: wait`
times out into a 202). Also: ownership is fenced — a second engine cannot take a market, and an engine
whose lock is gone cannot write."""
from __future__ import annotations

import threading

import pytest
from django.db import connection

from accounts.models import AuditEvent
from ledger.models import Asset
from marketplace.models import Market
from trading.models import Order, OrderRequest, Trade
from trading.orderbook.engine import ENGINE_LOCK_CLASS, Engine, NotOwner, drain

from tests.support.ledger import balances

ORDERS = "/api/v1/orders"


@pytest.fixture
def book(make_org, make_market, make_member, client_for, fund, fast_passwords, engine_mode):
    class Book:
        pass

    b = Book()
    b.market = make_market(tick_size=10, min_quantity=2000, price_band_bps=1000, fee_bps=20, fee_min=100,
                           always_open=True)
    Market.objects.filter(pk=b.market.pk).update(reference_price=100_00)
    b.buyer, b.seller = make_org("enterprise", "350102"), make_org("enterprise", "350203")
    fund(b.buyer, cny=10_000_00)
    fund(b.seller, market=b.market, quantity=50_000)
    b.buyer_client = client_for(make_member(b.buyer, "trader"))
    b.seller_client = client_for(make_member(b.seller, "trader"))
    b.cny = Asset.objects.get(code="CNY")
    return b


def body(market, **kw):
    return {"market": market.id, "side": "buy", "price": "100.00", "quantity": "2", **kw}


@pytest.mark.django_db(transaction=True)
def test_accept_then_prefer_wait_answers_with_fills(book, settings):
    b = book
    settings.ENGINE_EAGER = True
    r = b.seller_client.post(ORDERS, body(b.market, side="sell", quantity="5"), format="json")
    assert r.status_code == 202, r.content
    assert r.json()["order"]["status"] == "accepted" and r.json()["fills"] == []
    sell_id = r.json()["order"]["id"]
    assert Order.objects.get(pk=sell_id).status == "open"  # the engine took it after commit

    r = b.buyer_client.post(ORDERS, body(b.market, quantity="3"), format="json", HTTP_PREFER="wait=5")
    assert r.status_code == 201, r.content
    assert r["Preference-Applied"] == "wait=5"
    data = r.json()
    assert data["order"]["status"] == "filled" and data["order"]["remaining"] == "0.000"
    assert [(f["side"], f["price"], f["quantity"]) for f in data["fills"]] == [("buy", "100.00", "3.000")]
    assert Trade.objects.get().sell_order_id == sell_id
    assert OrderRequest.objects.count() == 0
    # escrow: the seller's rights for the open remainder and the trade are held
    unsettled = 3_000 if Trade.objects.get().status != "settled" else 0
    assert balances(b.seller, b.market.asset)[1] == 2_000 + unsettled
    actions = list(AuditEvent.objects.filter(object_type="order", object_id=str(data["order"]["id"]))
                   .values_list("action", flat=True))
    assert sorted(actions) == ["order.match", "order.place"]

    # cancel through the engine: 200 with the cancelled order under Prefer: wait, escrow released
    r = b.seller_client.post(f"{ORDERS}/{sell_id}/cancel", {}, format="json", HTTP_PREFER="wait=5")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "cancelled"
    unsettled = 3_000 if Trade.objects.get().status != "settled" else 0
    assert balances(b.seller, b.market.asset)[1] == unsettled  # the open remainder's escrow is released
    r = b.seller_client.post(f"{ORDERS}/{sell_id}/cancel", {}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "order_not_open"


@pytest.mark.django_db(transaction=True)
def test_without_engine_prefer_wait_times_out_into_202_and_replays(book, settings):
    b = book
    settings.ENGINE_EAGER = False
    before = balances(b.buyer, b.cny)
    r = b.buyer_client.post(ORDERS, body(b.market), format="json", HTTP_PREFER="wait=0.05", HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 202, r.content
    order_id = r.json()["order"]["id"]
    held = balances(b.buyer, b.cny)[1] - before[1]
    assert held == Order.objects.get(pk=order_id).hold_remaining > 0  # escrow before exposure, at acceptance
    again = b.buyer_client.post(ORDERS, body(b.market), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert again["Idempotent-Replayed"] == "true" and again.json()["order"]["id"] == order_id
    assert Order.objects.count() == 1 and OrderRequest.objects.count() == 1
    # reduce queues too; the engine, when it runs, applies both in order
    r = b.buyer_client.post(f"{ORDERS}/{order_id}/reduce", {"remaining": "1"}, format="json")
    assert r.status_code == 202 and r.json()["remaining"] == "2.000", r.content
    r = b.buyer_client.post(f"{ORDERS}/{order_id}/reduce", {"remaining": "2"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid_reduce"
    assert drain(b.market.id) == 2
    order = Order.objects.get(pk=order_id)
    assert (order.status, order.remaining) == ("open", 1_000)
    assert balances(b.buyer, b.cny)[1] - before[1] == order.hold_remaining < held  # the freed escrow released
    assert list(AuditEvent.objects.filter(object_id=str(order_id), object_type="order").order_by("id")
                .values_list("action", flat=True)) == ["order.place", "order.reduce_request", "order.match",
                                                       "order.reduce"]


@pytest.mark.django_db(transaction=True)
def test_refusals_leave_nothing(book, settings):
    b = book
    settings.ENGINE_EAGER = True
    before = (balances(b.buyer, b.cny), Order.objects.count(), OrderRequest.objects.count())
    for bad, code in ((body(b.market, price="100.05"), "price_off_tick"),
                      (body(b.market, price="200.00"), "price_outside_band"),
                      ({**body(b.market), "market": 10**9}, "unknown_market")):
        r = b.buyer_client.post(ORDERS, bad, format="json", HTTP_PREFER="wait=1")
        assert r.status_code in (400, 404, 409, 422), r.content
        assert r.json()["code"] == code, r.json()
    assert (balances(b.buyer, b.cny), Order.objects.count(), OrderRequest.objects.count()) == before


@pytest.mark.django_db(transaction=True)
def test_one_owner_per_market_and_the_fence(book):
    market_id = book.market.id
    first = Engine(market_id)
    assert first.acquire()
    taken = []

    def other():
        try:
            taken.append(Engine(market_id).acquire())
        finally:
            connection.close()

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert taken == [False]  # a second engine (another connection) cannot own the market
    with connection.cursor() as cur:  # the lock is lost (as when the connection drops): no write
        cur.execute("SELECT pg_advisory_unlock(%s, %s)", [ENGINE_LOCK_CLASS, market_id])
    with pytest.raises(NotOwner):
        first.step()
    assert not first.owned


@pytest.mark.django_db(transaction=True)
def test_a_replay_with_prefer_wait_answers_200_with_the_order_now(book, settings):
    """The stored answer of an acceptance is a 202; a replay of it under `Prefer: wait` answers with the
    order and its fills as they are now — but with 200 and `Idempotent-Replayed`, never a 201: a replay
    created nothing."""
    b = book
    settings.ENGINE_EAGER = False
    r = b.seller_client.post(ORDERS, body(b.market, side="sell", quantity="5"), format="json",
                             HTTP_IDEMPOTENCY_KEY="s-1")
    assert r.status_code == 202, r.content
    sell_id = r.json()["order"]["id"]
    b.buyer_client.post(ORDERS, body(b.market, quantity="3"), format="json")
    assert drain(b.market.id) == 2
    again = b.seller_client.post(ORDERS, body(b.market, side="sell", quantity="5"), format="json",
                                 HTTP_IDEMPOTENCY_KEY="s-1", HTTP_PREFER="wait=5")
    assert again.status_code == 200, again.content
    assert again["Idempotent-Replayed"] == "true" and again["Preference-Applied"] == "wait=5"
    data = again.json()
    assert data["order"]["id"] == sell_id and data["order"]["status"] == "open"
    assert [(f["side"], f["quantity"]) for f in data["fills"]] == [("sell", "3.000")]
    plain = b.seller_client.post(ORDERS, body(b.market, side="sell", quantity="5"), format="json",
                                 HTTP_IDEMPOTENCY_KEY="s-1")  # without Prefer: the stored answer, as stored
    assert (plain.status_code, plain["Idempotent-Replayed"]) == (202, "true")
    assert plain.json() == r.json()
    assert Order.objects.filter(organization=b.seller).count() == 1
