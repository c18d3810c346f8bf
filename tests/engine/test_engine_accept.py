"""The engine's acceptance (#19 items 2 and 3): `POST /orders` on an engine market writes the order, its
escrow hold (journal row and postings), its request, its audit event and the idempotency record in ONE
statement after one read (the market with the cap lock); a refusal — a short balance caught by the
ledger's CHECK inside that statement, the open-order cap — leaves nothing; replays answer the stored
response. The open-order cap is serialized per (market, organization): of two concurrent acceptances
for the last place, the second waits for the first and is refused (without the cap lock both would
pass, each statement counting before the other committed)."""
from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.actor import Actor
from accounts.models import AuditEvent
from core.errors import DomainError
from ledger.models import Asset, LedgerTransaction, Posting
from ledger.verify import verify_ledger
from marketplace.models import IdempotencyRecord, Market
from trading.models import Order, OrderRequest
from trading.orderbook.engine import order_accept
from trading.orderbook.sql import ACCEPT, MARKET_ACCEPT

from tests.support.ledger import balances

ORDERS = "/api/v1/orders"


@pytest.fixture
def desk(make_org, make_market, make_member, client_for, fund, fast_passwords, engine_mode, settings):
    settings.ENGINE_EAGER = False

    class D:
        pass

    d = D()
    d.market = make_market(tick_size=10, min_quantity=1000, price_band_bps=1000, fee_bps=20, fee_min=100,
                           always_open=True)
    Market.objects.filter(pk=d.market.pk).update(reference_price=100_00)
    d.org = make_org("enterprise", "350102")
    fund(d.org, cny=1_000_00)
    fund(d.org, market=d.market, quantity=10_000)
    d.client = client_for(make_member(d.org, "trader"))
    d.cny = Asset.objects.get(code="CNY")
    return d


def body(market, **kw):
    return {"market": market.id, "side": "buy", "price": "100.00", "quantity": "2", **kw}


@pytest.mark.django_db(transaction=True)  # commits, as in production: the account ids are cached after one
def test_one_statement_writes_everything(desk):
    d = desk
    d.client.post(ORDERS, body(d.market, price="99.00", quantity="1"), format="json")  # prepares the statements
    with CaptureQueriesContext(connection) as q:
        r = d.client.post(ORDERS, body(d.market), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 202, r.content
    order_id = r.json()["order"]["id"]
    sql = [x["sql"] for x in q.captured_queries]
    writes = [s for s in sql if s.startswith("EXECUTE") and ACCEPT.name + "(" in s]
    assert len(writes) == 1
    assert not [s for s in sql if any(w in s.upper() for w in ("INSERT ", "UPDATE ", "DELETE "))], sql
    assert sum(1 for s in sql if MARKET_ACCEPT._build()[1].name + "(" in s) == 1
    order = Order.objects.get(pk=order_id)
    assert (order.status, order.quantity, order.remaining) == ("accepted", 2_000, 2_000)
    txn = LedgerTransaction.objects.get(idempotency_key=f"order:{order_id}:hold")
    assert (txn.kind, txn.reference_type, txn.reference_id) == ("hold", "order", str(order_id))
    assert sorted(Posting.objects.filter(transaction=txn).values_list("bucket", "amount")) == \
        [("A", -order.hold_remaining), ("H", order.hold_remaining)]
    assert balances(d.org, d.cny)[1] == sum(Order.objects.filter(side="buy").values_list("hold_remaining", flat=True))
    assert OrderRequest.objects.filter(order_id=order_id, kind="place").count() == 1
    audit = AuditEvent.objects.get(action="order.place", object_id=str(order_id))
    assert audit.after["status"] == "accepted" and audit.actor_organization_id == d.org.id
    record = IdempotencyRecord.objects.get(organization_id=d.org.id, key="k1")
    assert record.status_code == 202 and record.response_body == r.json()
    # a replay: the stored answer, nothing new
    again = d.client.post(ORDERS, body(d.market), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert again["Idempotent-Replayed"] == "true" and again.json() == r.json()
    other = d.client.post(ORDERS, body(d.market, quantity="3"), format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"
    assert Order.objects.count() == 2 and OrderRequest.objects.count() == 2
    report = verify_ledger()
    assert report.ok, report


@pytest.mark.django_db
def test_refusals_in_the_statement_leave_nothing(desk, settings):
    d = desk
    before = (balances(d.org, d.cny), Order.objects.count(), LedgerTransaction.objects.count(),
              AuditEvent.objects.count())
    # the balance: the ledger's CHECK fails the statement (escrow before exposure), a clean 400
    r = d.client.post(ORDERS, body(d.market, quantity="20"), format="json", HTTP_IDEMPOTENCY_KEY="big")
    assert r.status_code == 400 and r.json()["code"] == "insufficient_balance", r.content
    assert not IdempotencyRecord.objects.filter(key="big", status_code__isnull=False).exists()
    # the cap: counted in the statement
    settings.MAX_OPEN_ORDERS_PER_MARKET = 1
    assert d.client.post(ORDERS, body(d.market, side="sell"), format="json").status_code == 202
    r = d.client.post(ORDERS, body(d.market), format="json", HTTP_IDEMPOTENCY_KEY="capped")
    assert r.status_code == 422 and r.json()["code"] == "too_many_open_orders", r.content
    after = (balances(d.org, d.cny), Order.objects.count(), LedgerTransaction.objects.count(),
             AuditEvent.objects.count())
    assert after == (before[0], before[1] + 1, before[2] + 1, before[3] + 1)  # only the sell was written


@pytest.mark.django_db(transaction=True)
def test_the_cap_is_serialized_between_concurrent_acceptances(desk, settings):
    """A (a buy) holds its transaction open after its write; B (a sell: other accounts, so nothing else
    makes it wait) must wait for A's cap lock, then count A's order and be refused."""
    d = desk
    settings.MAX_OPEN_ORDERS_PER_MARKET = 1
    a_written, a_release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def run(name, side, hold_open):
        from django.db import transaction
        try:
            with transaction.atomic():
                order_accept(actor=Actor.system(), organization=d.org, market_id=d.market.id, side=side,
                             price=100_00, quantity=1_000)
                if hold_open:
                    a_written.set()
                    a_release.wait(30)
            outcome[name] = "accepted"
        except DomainError as refusal:
            outcome[name] = refusal.code
        finally:
            a_written.set()
            connection.close()

    a = threading.Thread(target=run, args=("a", "buy", True))
    a.start()
    assert a_written.wait(30)
    b = threading.Thread(target=run, args=("b", "sell", False))
    b.start()
    # let B get as far as it can: until it waits on a lock, or is done (as it would be without the cap lock)
    with connection.cursor() as cur:
        for _ in range(3000):
            cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if cur.fetchone()[0] or not b.is_alive():
                break
            time.sleep(0.01)
    a_release.set()
    a.join(30)
    b.join(30)
    assert outcome == {"a": "accepted", "b": "too_many_open_orders"}
    assert Order.objects.filter(organization=d.org, status__in=("accepted", "open")).count() == 1
