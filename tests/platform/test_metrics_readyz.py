"""`/metrics` speaks the Prometheus text format with the operator's signals (pending outbox age, seal lag,
webhooks given up, settlement failures, orders and trades per market) and is closed to all but loopback
callers or the bearer token; `/readyz` says whether a settlement worker is alive (its heartbeat)."""
import re
import uuid

import pytest
from django.test import Client

from core import heartbeat
from trading.models import SettlementOutbox, Trade

from tests.support.rules import YUAN

T = 1000
SAMPLE = re.compile(r'^[a-z_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? -?[0-9]+(\.[0-9]+)?$')


def _metrics(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        assert SAMPLE.match(line), line
        key, value = line.rsplit(" ", 1)
        out[key] = float(value)
    return out


@pytest.mark.django_db
def test_metrics_report_the_operator_signals(world):
    m = world.market(subtype="SO2", region="350121")
    a, b = world.enterprise("350121"), world.enterprise("350102")
    world.issue(m, a, 10 * T)
    world.cross(a, b, m, 28_500 * YUAN, T)
    world.place(b, m, "buy", 20_000 * YUAN, T)  # rests
    Trade.objects.filter(market=m).update(status="failed")
    SettlementOutbox.objects.filter(trade__market=m).update(created_at="2020-01-01T00:00:00Z")

    r = Client().get("/metrics")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/plain; version=0.0.4")
    text = r.content.decode()
    for name in ("exchange_outbox_oldest_pending_seconds", "exchange_seal_lag_seconds",
                 "exchange_webhook_deliveries_gave_up_total", "exchange_settlement_failures_total",
                 "exchange_orders_open", "exchange_trades_total"):
        assert f"# TYPE {name} " in text, name
    values = _metrics(text)
    assert values[f'exchange_trades_total{{market="{m.code}"}}'] == 1
    assert values[f'exchange_orders_open{{market="{m.code}"}}'] == 1
    assert values["exchange_settlement_failures_total"] == 1
    assert values["exchange_outbox_oldest_pending_seconds"] > 3600 * 24 * 365
    assert values["exchange_outbox_pending"] == 1


@pytest.mark.django_db
def test_metrics_are_closed_to_remote_callers_and_open_to_the_token(settings):
    assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics").status_code == 404
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    assert Client().get("/metrics").status_code == 404  # loopback is not enough once a token is set
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    ok = Client(REMOTE_ADDR="203.0.113.9").get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    assert ok.status_code == 200 and b"exchange_trades_total" in ok.content


@pytest.mark.django_db
def test_readyz_says_whether_a_settlement_worker_is_alive(monkeypatch):
    monkeypatch.setattr(heartbeat, "PREFIX", f"test:{uuid.uuid4().hex}:worker:")
    body = Client().get("/readyz").json()
    assert body["checks"]["settlement_worker"] == "none alive" and body["status"] == "degraded"

    heartbeat.beat_once("webhooks-only@host", ["default", "webhooks"])  # not a settlement worker
    assert Client().get("/readyz").json()["checks"]["settlement_worker"] == "none alive"

    heartbeat.beat_once("settle-0@host", ["beat", "settle.0", "settle.1"])
    r = Client().get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["checks"]["settlement_worker"] == "ok" and body["status"] == "ok"
    assert body["settlement_workers"] == ["settle-0@host"]
    heartbeat.forget("settle-0@host")
    heartbeat.forget("webhooks-only@host")
    assert Client().get("/readyz").json()["status"] == "degraded"
