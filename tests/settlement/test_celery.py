"""Settlement through a real `celery worker` process and a real Redis (tests/support/celery.py).

Each scenario ends with every trade settled exactly once (one `settle` ledger transaction, one SETTLED
event, one audit event, the outbox row done) and the ledger sealed and verified."""
from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.models import AuditEvent, Organization
from core.broker import broker_backoff_reset
from ledger.models import Account, Asset
from trading.models import SettlementOutbox, Trade, TradeEvent, WebhookDelivery
from trading.orderbook.services import order_place
from trading.tasks import settle_trade, settlement_sweep

from tests.support.celery import (
    WORKER_APPLICATION_NAME,
    assert_ledger_verifies,
    assert_settled_exactly_once,
    settle_transactions_per_trade,
    wait_for,
)
from tests.support.ledger import balances

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]
SYSTEM = Actor.system()


def _cny():
    return Asset.objects.get(code="CNY")


def _statuses(trade_ids) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in Trade.objects.filter(pk__in=list(trade_ids)).values_list("status", flat=True):
        out[s] = out.get(s, 0) + 1
    return out


def _all(trade_ids, status="settled"):
    return lambda: _statuses(trade_ids) == {status: len(trade_ids)}


def _sweeping_until_settled(trade_ids, timeout=30.0, worker=None):
    """What beat does every few seconds: re-send what is pending and stale, until all settle."""
    last = [0.0]

    def check():
        if _statuses(trade_ids) == {"settled": len(trade_ids)}:
            return True
        if time.monotonic() - last[0] > 1.0:
            last[0] = time.monotonic()
            settlement_sweep(after_seconds=1.0)
        return False

    wait_for(check, timeout, interval=0.1, message=lambda: f"every trade to settle: {_statuses(trade_ids)}\n"
             + (worker.log_tail() if worker else ""))


def _book(market, seller, *, orders: int, price: int, lot: int):
    for _ in range(orders):
        order_place(actor=SYSTEM, organization=seller, market_id=market.id, side="sell", price=price, quantity=lot)


@pytest.fixture
def traders(make_org, make_market, fund):
    """Markets with a funded buyer and seller each."""
    def factory(*, fee_bps=10, fee_min=100, rights=1_000_000, **kw):
        market = make_market(fee_bps=fee_bps, fee_min=fee_min, **kw)
        buyer, seller = make_org("enterprise", "350102"), make_org("enterprise", "350203")
        fund(buyer, cny=10_000_000_000)
        fund(seller, market=market, quantity=rights)
        return market, buyer, seller

    return factory


@pytest.fixture(autouse=True)
def _quiet_between_tests(celery_worker):
    broker_backoff_reset()
    yield
    broker_backoff_reset()
    celery_worker.ensure_running()
    celery_worker.quiesce()


class Receiver:
    def __init__(self, script=()):
        self.script, self.requests = list(script), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                code = receiver.script.pop(0) if receiver.script else 200
                receiver.requests.append({"headers": dict(self.headers), "body": body, "answered": code})
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/trades"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _worker_backends() -> set[int]:
    with connection.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
                    [WORKER_APPLICATION_NAME])
        return {r[0] for r in cur.fetchall()}


# --- the happy path, end to end -------------------------------------------------------------------------

def test_happy_path_through_the_api(celery_worker, traders, make_org, make_member, client_for, operator_org,
                                    settings):
    from trading.notifications.delivery import verify_signature

    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    market, buyer, seller = traders(fee_bps=10, fee_min=100)
    receiver = Receiver(script=[500])  # the first delivery fails: retried with backoff by the worker
    try:
        admin = client_for(make_member(buyer, "admin"))
        secret = admin.post("/api/v1/webhooks", {"url": receiver.url}, format="json").json()["secret"]
        buy_client, sell_client = client_for(make_member(buyer, "trader")), client_for(make_member(seller, "trader"))
        cash0 = balances(buyer, _cny())[0]
        r = sell_client.post("/api/v1/orders", {"market": market.id, "side": "sell", "price": "100.00",
                                                 "quantity": "5"}, format="json")
        assert r.status_code == 201, r.json()
        r = buy_client.post("/api/v1/orders", {"market": market.id, "side": "buy", "price": "101.00",
                                                "quantity": "5"}, format="json")
        assert r.status_code == 201, r.json()
        [fill] = r.json()["fills"]
        trade_id = fill["id"]
        wait_for(_all([trade_id]), 20, message="the worker to settle the trade")

        trade = Trade.objects.get(pk=trade_id)
        assert (trade.value, trade.buyer_fee, trade.seller_fee) == (50_000, 100, 100)
        assert balances(buyer, market.asset) == (5_000, 0)
        assert balances(buyer, _cny()) == (cash0 - 50_000 - 100, 0)  # price improvement returned, nothing held
        assert balances(seller, _cny()) == (50_000 - 100, 0)
        assert balances(seller, market.asset) == (1_000_000 - 5_000, 0)
        assert Account.objects.get(organization=operator_org, kind="fee_income").available == 200
        assert_settled_exactly_once([trade_id])

        # each party lists its own trade events; nobody else sees them
        for client in (buy_client, sell_client):
            rows = client.get("/api/v1/trades/events").json()["results"]
            assert [e["status"] for e in rows if e["trade"] == trade_id] == ["settled", "settling", "matched"]
        outsider = client_for(make_member(make_org("enterprise", "350104"), "viewer"))
        assert outsider.get("/api/v1/trades/events").json()["results"] == []

        # webhooks: matched (after one failed attempt) and settled, signed
        wait_for(lambda: WebhookDelivery.objects.filter(trade_id=trade_id, status="delivered").count() == 2, 20,
                 message="both webhooks to be delivered")
        matched = WebhookDelivery.objects.get(trade_id=trade_id, event="matched")
        assert matched.attempts == 2 and matched.last_error == ""
        assert [q["answered"] for q in receiver.requests].count(500) == 1
        for request in receiver.requests:
            assert verify_signature(secret, request["body"], request["headers"]["X-Signature"])
        types = sorted(json.loads(q["body"])["type"] for q in receiver.requests if q["answered"] == 200)
        assert types == ["trade.matched", "trade.settled"]
    finally:
        receiver.close()

    # the worker keeps its database connections across tasks (CELERY_DB_REUSE_MAX)
    before = _worker_backends()
    assert before, "the worker holds no database connection between tasks"
    ids = []
    for _ in range(20):
        order_place(actor=SYSTEM, organization=seller, market_id=market.id, side="sell", price=10_000, quantity=1_000)
        ids += [t.id for t in order_place(actor=SYSTEM, organization=buyer, market_id=market.id, side="buy",
                                          price=10_000, quantity=1_000).trades]
    wait_for(_all(ids), 20, message="20 more settlements")
    assert before <= _worker_backends()  # the same sessions served every later task
    assert_settled_exactly_once(ids)
    assert_ledger_verifies()


# --- duplicates ---------------------------------------------------------------------------------------

def test_the_same_task_delivered_twice_at_once_settles_once(celery_worker, traders):
    market, buyer, seller = traders()
    _book(market, seller, orders=10, price=10_000, lot=1_000)
    trades = order_place(actor=SYSTEM, organization=buyer, market_id=market.id, side="buy", price=10_000,
                         quantity=10_000).trades
    ids = [t.id for t in trades]
    queue = SettlementOutbox.objects.get(trade_id=ids[0]).queue
    for trade_id in ids:  # two more copies of every message, on top of the nudge sent at commit
        settle_trade.apply_async((trade_id,), queue=queue)
        settle_trade.apply_async((trade_id,), queue=queue)
    wait_for(_all(ids), 20, message="the trades to settle")
    time.sleep(0.5)  # let the duplicates run out
    assert_settled_exactly_once(ids)
    assert balances(buyer, market.asset) == (10_000, 0)
    assert_ledger_verifies()


# --- a worker killed in the middle of a burst ----------------------------------------------------------

def test_worker_killed_mid_burst_every_trade_settles_once(celery_worker, traders):
    markets = [traders(fee_bps=10, fee_min=100) for _ in range(3)]
    for market, _, seller in markets:
        _book(market, seller, orders=80, price=10_000, lot=1_000)
    ids = []
    for market, buyer, _ in markets:  # three bursts of 80 trades, each committed at once
        ids += [t.id for t in order_place(actor=SYSTEM, organization=buyer, market_id=market.id, side="buy",
                                          price=10_000, quantity=80_000).trades]
    assert len(ids) == 240
    wait_for(lambda: _statuses(ids).get("settled", 0) >= 10, 20, interval=0.01, message="the burst to start")
    celery_worker.kill()
    at_kill = _statuses(ids).get("settled", 0)
    assert at_kill < len(ids), "the worker finished the burst before it could be killed"
    celery_worker.start()
    _sweeping_until_settled(ids, worker=celery_worker)
    assert_settled_exactly_once(ids)
    for market, buyer, seller in markets:
        assert balances(buyer, market.asset) == (80_000, 0)
        assert balances(seller, market.asset)[1] == 0
        assert balances(buyer, _cny())[1] == 0
    assert_ledger_verifies()


# --- Redis down while trades are matched ------------------------------------------------------------------

def test_trades_matched_while_redis_is_down_settle_through_the_sweeper(celery_worker, traders):
    redis = celery_worker.redis
    market, buyer, seller = traders()
    _book(market, seller, orders=5, price=10_000, lot=1_000)
    redis.stop()
    try:
        started = time.monotonic()
        trades = order_place(actor=SYSTEM, organization=buyer, market_id=market.id, side="buy", price=10_000,
                             quantity=5_000).trades  # commits; the nudge cannot be sent
        more = []
        for _ in range(3):  # and later ones do not even try for a while (no pile-up of timeouts)
            order_place(actor=SYSTEM, organization=seller, market_id=market.id, side="sell", price=10_000,
                        quantity=1_000)
            more += order_place(actor=SYSTEM, organization=buyer, market_id=market.id, side="buy", price=10_000,
                                quantity=1_000).trades
        assert time.monotonic() - started < 10, "a broker outage must not block placing orders"
        ids = [t.id for t in trades + more]
        assert len(ids) == 8
        time.sleep(1.0)
        assert _statuses(ids) == {"matched": 8}
        assert SettlementOutbox.objects.filter(trade_id__in=ids, status="pending").count() == 8
    finally:
        redis.start()
    broker_backoff_reset()
    if not celery_worker.ensure_running():  # (restarted, as a supervisor would, if the outage killed it)
        celery_worker.wait_ready()  # the worker reconnects by itself
    _sweeping_until_settled(ids, worker=celery_worker)
    assert_settled_exactly_once(ids)
    assert_ledger_verifies()


# --- end-of-day settlement and the batch report --------------------------------------------------------

def test_end_of_day_market_settles_at_the_cutoff_with_a_batch_report(celery_worker, traders, make_member,
                                                                      client_for, operator_org):
    from ledger.services import hold_release
    from marketplace.models import Market
    from trading.settlement.services import trade_settle

    market, buyer, seller = traders(fee_bps=10, fee_min=100, settlement_mode="eod",
                                    eod_cutoff=(timezone.localtime() - timedelta(hours=1)).time())
    _book(market, seller, orders=4, price=10_000, lot=1_000)
    cutoff_at = (timezone.localtime() + timedelta(seconds=4)).replace(microsecond=0)
    Market.objects.filter(pk=market.pk).update(eod_cutoff=cutoff_at.time())  # the cut-off: in 3 to 4 seconds
    trades = order_place(actor=SYSTEM, organization=buyer, market_id=market.id, side="buy", price=10_000,
                         quantity=4_000).trades
    ids = [t.id for t in trades]
    rows = SettlementOutbox.objects.filter(trade_id__in=ids)
    assert {r.not_before for r in rows} == {cutoff_at} and {r.last_enqueued_at for r in rows} == {None}
    assert trade_settle(trade_id=ids[0]) == "not_due"
    settlement_sweep(after_seconds=0)
    time.sleep(0.7)
    assert _statuses(ids) == {"matched": 4}  # nothing was sent before the cut-off
    # some will fail at the cut-off: one trade's worth of the buyer's escrow goes missing (a bug elsewhere)
    with transaction.atomic():
        hold_release(actor=SYSTEM, organization_id=buyer.id, asset=_cny(), amount=trades[0].buyer_hold,
                     reference=("test", "steal"), idempotency_key="eod-steal")

    wait_for(lambda: timezone.now() >= cutoff_at, 10, message="the cut-off")
    assert settlement_sweep() == 4  # what beat does at the cut-off: each trade its own task and transaction
    wait_for(lambda: not SettlementOutbox.objects.filter(trade_id__in=ids, status="pending").exists(), 20,
             message="the end-of-day batch")
    statuses = _statuses(ids)
    assert statuses.get("settled", 0) + statuses.get("failed", 0) == 4 and statuses.get("failed", 0) >= 1
    settled = list(Trade.objects.filter(pk__in=ids, status="settled").values_list("id", flat=True))
    assert_settled_exactly_once(settled)
    assert all(t.settled_at >= cutoff_at for t in Trade.objects.filter(pk__in=settled))
    assert AuditEvent.objects.filter(action="alert.settlement_failed", object_id__in=[str(i) for i in ids]).exists()

    operator = client_for(make_member(operator_org, "viewer"))
    day = timezone.localtime(cutoff_at).date().isoformat()
    [batch] = operator.get(f"/api/v1/settlement/batches?date={day}&market={market.id}").json()
    failed = statuses["failed"]
    assert batch["settlement_mode"] == "eod" and batch["trades"] == 4
    assert batch["settled"] == 4 - failed and batch["failed"] == failed and batch["pending"] == 0
    assert batch["settled_value"] == f"{100 * (4 - failed)}.00"
    fees = sum(t.buyer_fee + t.seller_fee for t in Trade.objects.filter(pk__in=settled))
    assert batch["fees"] == f"{fees // 100}.{fees % 100:02d}"  # the buyer's minimum fee sits on its first fill
    assert {f["reason"] for f in batch["failed_trades"]} == {"settlement_error:insufficient_held"}
    assert client_for(make_member(buyer, "admin")).get("/api/v1/settlement/batches").status_code == 403
    assert_ledger_verifies()


# --- a poison trade -------------------------------------------------------------------------------------

def test_a_poison_trade_fails_after_its_attempts_without_blocking_its_queue(celery_worker, traders,
                                                                             operator_org):
    from trading.settlement.routing import settlement_queue

    poison_market, buyer, seller = traders(fee_bps=10, fee_min=100)
    for _ in range(8):  # a fee-free market on the same queue
        healthy, hbuyer, hseller = traders(fee_bps=0, fee_min=0)
        if settlement_queue(healthy.id) == settlement_queue(poison_market.id):
            break
    assert settlement_queue(healthy.id) == settlement_queue(poison_market.id)
    cash0, rights0 = balances(buyer, _cny()), balances(seller, poison_market.asset)
    # a configuration error makes this trade's settlement raise every time: its fees have nowhere to go
    Organization.objects.filter(pk=operator_org.pk).update(kind="enterprise")
    try:
        order_place(actor=SYSTEM, organization=seller, market_id=poison_market.id, side="sell", price=10_000,
                    quantity=1_000)
        [poison] = order_place(actor=SYSTEM, organization=buyer, market_id=poison_market.id, side="buy",
                               price=10_000, quantity=1_000).trades
        _book(healthy, hseller, orders=5, price=10_000, lot=1_000)
        ids = [t.id for t in order_place(actor=SYSTEM, organization=hbuyer, market_id=healthy.id, side="buy",
                                         price=10_000, quantity=5_000).trades]
        wait_for(_all(ids), 10, message="the healthy market's trades to settle past the poison one")
        assert Trade.objects.get(pk=poison.id).status == "matched"
        wait_for(lambda: Trade.objects.get(pk=poison.id).status == "failed", 20,
                 message="the poison trade to fail after its attempts")
    finally:
        Organization.objects.filter(pk=operator_org.pk).update(kind="exchange_operator")
    t = Trade.objects.get(pk=poison.id)
    assert t.failure_reason == "settlement_error:max_attempts"
    row = SettlementOutbox.objects.get(trade_id=poison.id)
    assert row.status == "done" and row.attempts == 3 and "no exchange operator" in row.last_error
    assert AuditEvent.objects.filter(action="alert.settlement_failed", object_id=str(poison.id)).exists()
    assert balances(buyer, _cny()) == cash0 and balances(seller, poison_market.asset) == rights0  # all released
    assert settle_transactions_per_trade([poison.id]) == {poison.id: 0}
    assert TradeEvent.objects.filter(trade_id=poison.id, status="failed").count() == 1
    assert_settled_exactly_once(ids)
    assert_ledger_verifies()
