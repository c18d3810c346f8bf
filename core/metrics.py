"""`/metrics`: the signals the README tells operators to watch, in the Prometheus text format (0.0.4),
written by hand (a handful of gauges and counters read from PostgreSQL at scrape time; no client library).

* `exchange_outbox_oldest_pending_seconds` — age of the oldest pending settlement outbox row (0: none);
* `exchange_outbox_pending` — pending settlement outbox rows;
* `exchange_seal_lag_seconds` — how long the newest ledger transaction has waited for a checkpoint (0 when
  the latest checkpoint is newer than every transaction);
* `exchange_webhook_deliveries_gave_up_total` — webhook deliveries that exhausted their attempts;
* `exchange_settlement_failures_total` — trades failed by settlement;
* `exchange_orders_open{market}` / `exchange_trades_total{market}` — per order-book market.

Access: with METRICS_TOKEN set, only `Authorization: Bearer <METRICS_TOKEN>`; without it, only callers on
the loopback interface (a scraper on the same host, or a reverse proxy that does not forward /metrics).
Anything else gets a 404 (the endpoint is not advertised)."""
from __future__ import annotations

import hmac
import ipaddress

from django.apps import apps
from django.db import connection
from django.http import HttpResponse, JsonResponse

from core import conf

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _allowed(request) -> bool:
    token = conf.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _label(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _scalar(cur, sql: str) -> float:
    cur.execute(sql)
    row = cur.fetchone()
    return float(row[0] or 0) if row else 0.0


def _table(label: str, model: str) -> str:
    """Another app's table, through its model (the kernel imports no app; `apps` resolves it at run time)."""
    return apps.get_model(label, model)._meta.db_table


def collect() -> list[tuple[str, str, str, list[tuple[dict, float]]]]:
    """(name, type, help, [(labels, value)]) for every metric."""
    outbox, trade, order = (_table("trading", "SettlementOutbox"), _table("trading", "Trade"),
                            _table("trading", "Order"))
    txn, checkpoint = _table("ledger", "LedgerTransaction"), _table("ledger", "Checkpoint")
    delivery, market = _table("trading", "WebhookDelivery"), _table("marketplace", "Market")
    with connection.cursor() as cur:
        oldest = _scalar(cur, f"""SELECT extract(epoch FROM now() - min(created_at))
                                   FROM {outbox} WHERE status = 'pending'""")
        pending = _scalar(cur, f"SELECT count(*) FROM {outbox} WHERE status = 'pending'")
        seal_lag = _scalar(cur, f"""
            SELECT CASE WHEN last_txn > coalesce(last_cp, '-infinity') THEN
                        extract(epoch FROM now() - coalesce(first_unsealed, last_txn)) ELSE 0 END
              FROM (SELECT (SELECT max(created_at) FROM {txn}) AS last_txn,
                           (SELECT max(created_at) FROM {checkpoint}) AS last_cp) x
              LEFT JOIN LATERAL (SELECT min(created_at) AS first_unsealed FROM {txn}
                                  WHERE created_at > coalesce(x.last_cp, '-infinity')) f ON true""")
        gave_up = _scalar(cur, f"SELECT count(*) FROM {delivery} WHERE status = 'gave_up'")
        failed = _scalar(cur, f"SELECT count(*) FROM {trade} WHERE status = 'failed'")
        cur.execute(f"""SELECT m.code,
                              (SELECT count(*) FROM {order} o WHERE o.market_id = m.id AND o.status = 'open'),
                              (SELECT count(*) FROM {trade} t WHERE t.market_id = m.id)
                         FROM {market} m ORDER BY m.id""")
        per_market = cur.fetchall()
    return [
        ("exchange_outbox_oldest_pending_seconds", "gauge",
         "Age of the oldest pending settlement outbox row (0: none pending).", [({}, oldest)]),
        ("exchange_outbox_pending", "gauge", "Pending settlement outbox rows.", [({}, pending)]),
        ("exchange_seal_lag_seconds", "gauge",
         "Seconds the oldest ledger transaction newer than the last checkpoint has waited (0: all sealed).",
         [({}, seal_lag)]),
        ("exchange_webhook_deliveries_gave_up_total", "counter",
         "Webhook deliveries that exhausted their attempts.", [({}, gave_up)]),
        ("exchange_settlement_failures_total", "counter", "Trades failed by settlement.", [({}, failed)]),
        ("exchange_orders_open", "gauge", "Open orders per market.",
         [({"market": code}, float(o)) for code, o, _ in per_market]),
        ("exchange_trades_total", "counter", "Trades per market.",
         [({"market": code}, float(t)) for code, _, t in per_market]),
    ]


def render(metrics) -> str:
    lines = []
    for name, kind, help_text, samples in metrics:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for labels, value in samples:
            tag = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            number = repr(round(value, 3)) if value != int(value) else str(int(value))
            lines.append(f"{name}{{{tag}}} {number}" if tag else f"{name} {number}")
    return "\n".join(lines) + "\n"


def metrics_view(request):
    if not _allowed(request):
        return JsonResponse({"code": "not_found", "message": "Not found."}, status=404)
    return HttpResponse(render(collect()), content_type=CONTENT_TYPE)
