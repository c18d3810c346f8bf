"""`Prefer: wait` listens for the engine instead of polling (#19, `trading.orderbook.waiting`): the engine
NOTIFYs its market's channel in each batch (delivered at the batch's commit) and the wait wakes on it; a
notification that is lost only delays the answer — to the slow poll, or to the check at the deadline —
and a process that cannot listen polls. The engine runs in a thread of its own (its own database
connection), started once the wait has listened and checked, so each test knows which path answered.
No timing is asserted: the label of what woke the wait is."""
from __future__ import annotations

import threading

import psycopg2
import pytest
from django.db import connection

from trading.models import Order, OrderRequest
from trading.orderbook import engine as engine_module
from trading.orderbook import waiting
from trading.orderbook.engine import drain

ORDERS = "/api/v1/orders"


@pytest.fixture
def accepted(make_org, make_market, make_member, client_for, fund, fast_passwords, engine_mode, settings):
    """A resting sell and a crossing buy, both accepted and queued for the market's engine (not taken)."""
    settings.ENGINE_EAGER = False
    market = make_market(tick_size=10, min_quantity=1000, price_band_bps=None, fee_bps=0, fee_min=0,
                         always_open=True)
    buyer, seller = make_org("enterprise", "350102"), make_org("enterprise", "350203")
    fund(buyer, cny=10_000_00)
    fund(seller, market=market, quantity=50_000)
    buyer_client = client_for(make_member(buyer, "trader"))
    seller_client = client_for(make_member(seller, "trader"))
    r = seller_client.post(ORDERS, {"market": market.id, "side": "sell", "price": "100.00", "quantity": "2"},
                           format="json")
    assert r.status_code == 202, r.content
    r = buyer_client.post(ORDERS, {"market": market.id, "side": "buy", "price": "100.00", "quantity": "2"},
                          format="json")
    assert r.status_code == 202, r.content
    return r.json()["order"]["id"], market, buyer_client


class EngineAfterFirstCheck:
    """Runs the market's engine in a thread once the wait has made its first check (it listens before
    that check); with `hold_deadline`, the wait's check at the deadline waits for the engine to finish."""

    def __init__(self, monkeypatch, market_id: int):
        self.market_id, self.checks, self.taken = market_id, 0, None
        self.checked = threading.Event()
        self.thread = threading.Thread(target=self._run)
        real = waiting._taken

        def taken(order_id):
            self.checks += 1
            if self.checks > 1 and self.join_before_later_checks:
                self.thread.join()
            result = real(order_id)
            self.checked.set()
            return result

        self.join_before_later_checks = False
        monkeypatch.setattr(waiting, "_taken", taken)

    def _run(self):
        try:
            self.checked.wait(60)
            self.taken = drain(self.market_id)
        finally:
            connection.close()  # this thread's own connection

    def start(self):
        self.thread.start()
        return self


def lose_notifications(monkeypatch):
    """The engine notifies a channel nobody listens to: every notification is lost."""
    monkeypatch.setattr(engine_module, "done_channel", lambda market_id: "nobody_listens_here")


@pytest.mark.django_db(transaction=True)
def test_the_answer_arrives_on_the_engines_notify(accepted, settings, monkeypatch):
    order_id, market, _ = accepted
    settings.PREFER_WAIT_POLL = 3600  # no slow poll: before its deadline only a NOTIFY can wake the wait
    engine = EngineAfterFirstCheck(monkeypatch, market.id).start()
    got = waiting.wait(order_id, 120)
    engine.thread.join()
    assert got.how == "notify"
    assert engine.taken == 2 and not OrderRequest.objects.exists()
    assert got.order is not None and got.order.status == "filled" and got.order.remaining == 0


@pytest.mark.django_db(transaction=True)
def test_a_lost_notify_only_delays_the_answer_to_the_slow_poll(accepted, settings, monkeypatch):
    order_id, market, _ = accepted
    lose_notifications(monkeypatch)
    settings.PREFER_WAIT_POLL = 0.05
    engine = EngineAfterFirstCheck(monkeypatch, market.id).start()
    got = waiting.wait(order_id, 120)
    engine.thread.join()
    assert got.how == "poll"
    assert got.order is not None and got.order.status == "filled"


@pytest.mark.django_db(transaction=True)
def test_a_lost_notify_without_slow_poll_is_answered_by_the_check_at_the_deadline(accepted, settings, monkeypatch):
    order_id, market, _ = accepted
    lose_notifications(monkeypatch)
    settings.PREFER_WAIT_POLL = 3600
    engine = EngineAfterFirstCheck(monkeypatch, market.id)
    engine.join_before_later_checks = True  # the engine has committed before the deadline's check
    engine.start()
    got = waiting.wait(order_id, 0.2)
    assert got.how == "deadline"
    assert got.order is not None and got.order.status == "filled"


@pytest.mark.django_db(transaction=True)
def test_nothing_taken_by_the_deadline_is_none(accepted, settings):
    order_id, _, _ = accepted
    settings.PREFER_WAIT_POLL = 3600
    got = waiting.wait(order_id, 0.05)
    assert (got.order, got.how) == (None, "deadline")
    assert Order.objects.get(pk=order_id).status == "accepted"


@pytest.mark.django_db(transaction=True)
def test_without_a_listener_the_wait_polls(accepted, settings, monkeypatch):
    order_id, market, _ = accepted
    waiting.close_listener()

    def refuse(params):
        raise psycopg2.OperationalError("no listening connection")

    monkeypatch.setattr(waiting, "_connect", refuse)
    settings.PREFER_WAIT_POLL = 3600  # not used by the fallback, which polls with its own back-off
    engine = EngineAfterFirstCheck(monkeypatch, market.id).start()
    got = waiting.wait(order_id, 120)
    engine.thread.join()
    assert got.how == "poll" and got.order.status == "filled"


@pytest.mark.django_db(transaction=True)
def test_the_listener_is_reused_and_unlistens_between_waits(accepted, settings, monkeypatch):
    order_id, market, _ = accepted
    settings.PREFER_WAIT_POLL = 3600
    assert waiting.wait(order_id, 0.01).how == "deadline"
    conn = waiting._listener.conn
    assert conn is not None and not conn.closed
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_listening_channels()")
        assert cur.fetchone()[0] == 0  # UNLISTENed: notifications do not pile up between waits
    engine = EngineAfterFirstCheck(monkeypatch, market.id).start()
    got = waiting.wait(order_id, 120)
    engine.thread.join()
    assert got.how == "notify" and waiting._listener.conn is conn


@pytest.mark.django_db(transaction=True)
def test_prefer_wait_through_the_api_wakes_on_notify(accepted, settings, monkeypatch):
    """The API answers as before (201, the order with its fills) once the engine, in another thread,
    has taken the order — woken by the engine's NOTIFY."""
    _, market, buyer_client = accepted
    settings.PREFER_WAIT_POLL = 3600
    settings.PREFER_WAIT_MAX = 120
    assert drain(market.id) == 2  # the fixture's two orders trade with each other; the book is empty

    seen = []
    real_wait = waiting.wait

    def spy(order_id, timeout):
        seen.append(real_wait(order_id, timeout))
        return seen[-1]

    monkeypatch.setattr(waiting, "wait", spy)
    engine = EngineAfterFirstCheck(monkeypatch, market.id).start()
    r = buyer_client.post(ORDERS, {"market": market.id, "side": "buy", "price": "90.00", "quantity": "1"},
                          format="json", HTTP_PREFER="wait=120")
    engine.thread.join()
    assert r.status_code == 201, r.content
    assert r["Preference-Applied"] == "wait=120"
    assert r.json()["order"]["status"] == "open" and r.json()["fills"] == []
    assert [w.how for w in seen] == ["notify"]
