"""Outgoing webhooks: HMAC-signed POSTs of trade events to the endpoints organizations register.

Events: `matched`, `settled`, `failed` (a trade rejected by a regulator is delivered as `failed` with
status `rejected`). An endpoint subscribes to a subset (`events`, empty = all).

Delivery (at least once; receivers deduplicate on `X-Event-Id`):
  * the transition's transaction inserts one `WebhookDelivery` per (endpoint of a party × event) with
    the payload as of that moment; after commit a `deliver_webhook` task is sent to the `webhooks`
    queue (never a settlement queue, so a slow endpoint cannot hold up settlement);
  * the task claims the row with one UPDATE (a lease: `next_attempt_at` moves LEASE_SECONDS ahead and
    `attempts` goes up), so two copies of the task never POST at once; then POSTs with a short timeout
    and records the outcome: delivered (2xx), or a retry after an exponential backoff
    (RETRY_BASE·2^(attempts−1), capped at RETRY_MAX), or `gave_up` after MAX_ATTEMPTS;
  * `webhook_sweep` (beat) re-sends every pending delivery whose time has come: a retry due, a lost
    message, a worker that died in the middle of a POST (its lease runs out).

Request: `POST <url>`, body = the payload as compact JSON (UTF-8, sorted keys), headers
  Content-Type: application/json
  X-Event-Id: <stable id of this event for this endpoint>     X-Event-Type: trade.<event>
  X-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes under the endpoint's secret>
Redirects are not followed (a 3xx is a failed attempt). URLs resolving to loopback, private,
link-local or reserved addresses are refused unless WEBHOOK_ALLOW_PRIVATE_URLS (development, tests).

Knobs (Django setting, else environment variable, else default): WEBHOOK_TIMEOUT_SECONDS (3),
WEBHOOK_MAX_ATTEMPTS (8), WEBHOOK_RETRY_BASE_SECONDS (10), WEBHOOK_RETRY_MAX_SECONDS (3600),
WEBHOOK_LEASE_SECONDS (60), WEBHOOK_ALLOW_PRIVATE_URLS (off).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.db import connection, transaction
from django.utils import timezone

from core import conf
from core.broker import publish
from core.money import from_minor
from ledger.models import Asset
from trading.common.queues import WEBHOOK_QUEUE
from trading.models import Trade, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)
EVENTS = ("matched", "settled", "failed")
STATUS_EVENT = {"matched": "matched", "settled": "settled", "failed": "failed", "rejected": "failed"}
USER_AGENT = "resource-exchange-webhooks/1"
DELIVER_TASK = "trading.tasks.deliver_webhook"  # the registered name of trading.tasks.notifications.deliver_webhook


def timeout_seconds() -> float:
    return conf.get("WEBHOOK_TIMEOUT_SECONDS")


def max_attempts() -> int:
    return conf.get("WEBHOOK_MAX_ATTEMPTS")


def backoff_seconds(attempts: int) -> float:
    base, cap = conf.get("WEBHOOK_RETRY_BASE_SECONDS"), conf.get("WEBHOOK_RETRY_MAX_SECONDS")
    return min(cap, base * 2 ** max(attempts - 1, 0))


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (and the tests): constant-time comparison of the X-Signature header."""
    return hmac.compare_digest(sign(secret, body), header or "")


def body_bytes(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# --- URL policy ---------------------------------------------------------------------------------------

class UrlRefused(ValueError):
    pass


def check_url(url: str) -> None:
    """Raise UrlRefused unless `url` is http(s) to a public address (or private addresses are allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlRefused("must be an http or https URL")
    if parts.username or parts.password:
        raise UrlRefused("must not contain credentials")
    if conf.get("WEBHOOK_ALLOW_PRIVATE_URLS"):
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        raise UrlRefused("host name does not resolve")
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
                or address.is_reserved or address.is_unspecified):
            raise UrlRefused("must resolve to a public address")


# --- recording (inside the transition's transaction) ---------------------------------------------------

def _payload(trade: Trade, event: str, status: str, endpoint_id: int, organization_id: int, scale: int,
             market_code: str | None, now) -> dict:
    side = "buy" if organization_id == trade.buyer_id else "sell"
    fee = trade.buyer_fee if side == "buy" else trade.seller_fee
    return {
        "id": f"evt_{trade.id}_{event}_{endpoint_id}",
        "type": f"trade.{event}",
        "created_at": now.isoformat(),
        "organization": organization_id,
        "trade": {
            "id": trade.id, "market": market_code, "source": trade.source, "side": side,
            "price": from_minor(trade.price, 2), "quantity": from_minor(trade.quantity, scale),
            "value": from_minor(trade.value, 2), "fee": from_minor(fee, 2), "status": status,
            "settled_at": trade.settled_at.isoformat() if trade.settled_at else None,
            "ledger_transaction_id": trade.ledger_transaction_id,
            "failure_reason": trade.failure_reason or None,
        },
    }


def record_trade_events(trades: list[Trade], status: str, *, asset=None, endpoints=None) -> list[int]:
    """Insert the deliveries of `status` for `trades` (ON CONFLICT DO NOTHING: recording twice is
    harmless) and send them after commit. One SELECT when nobody has an endpoint (none when the caller
    read the parties' active `endpoints`, as (id, organization id, events), already)."""
    event = STATUS_EVENT.get(status)
    if event is None or not trades:
        return []
    if endpoints is None:
        org_ids = {t.buyer_id for t in trades} | {t.seller_id for t in trades}
        endpoints = list(WebhookEndpoint.objects.filter(organization_id__in=org_ids, active=True)
                         .values_list("id", "organization_id", "events"))
    endpoints = [(i, o, e if isinstance(e, list) else json.loads(e or "[]")) for i, o, e in endpoints]
    endpoints = [e for e in endpoints if not e[2] or event in e[2]]
    if not endpoints:
        return []
    scales = _scales(trades, asset)
    now = timezone.now()
    rows = []
    for t in trades:
        market_code = t.market.code if t.market_id and t.market else None
        for endpoint_id, org_id, _ in endpoints:
            if org_id in (t.buyer_id, t.seller_id):
                payload = _payload(t, event, status, endpoint_id, org_id, scales[t.asset_id], market_code, now)
                rows.append((endpoint_id, t.id, event, json.dumps(payload, sort_keys=True)))
    if not rows:
        return []
    # database time throughout (the claim compares with the database clock, not this host's)
    values = ",".join(["(%s, %s, %s, %s::jsonb, 'pending', 0, now(), '', now())"] * len(rows))
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"""INSERT INTO trading_webhookdelivery
                            (endpoint_id, trade_id, event, payload, status, attempts, next_attempt_at, last_error,
                             created_at)
                        VALUES {values}
                        ON CONFLICT (endpoint_id, trade_id, event) DO NOTHING RETURNING id""",
                    [x for row in rows for x in row])
        ids = [r[0] for r in cur.fetchall()]
    if ids:
        transaction.on_commit(lambda: [send_delivery(i) for i in ids])
    return ids


def _scales(trades: list[Trade], asset) -> dict[int, int]:
    scales = {}
    if asset is not None:
        scales[asset.id] = asset.scale
    for t in trades:
        market = t.market if t.market_id else None
        if t.asset_id not in scales and market is not None and market._meta.get_field("asset").is_cached(market):
            scales[t.asset_id] = market.asset.scale
    missing = {t.asset_id for t in trades} - set(scales)
    if missing:
        scales.update(Asset.objects.filter(pk__in=missing).values_list("id", "scale"))
    return scales


# --- sending -------------------------------------------------------------------------------------------

def send_delivery(delivery_id: int, *, countdown: float | None = None) -> bool:
    """Publish one delivery by the task's registered name (this module is below the task modules);
    False when the broker is unreachable: the sweeper sends it later."""
    return publish(DELIVER_TASK, (delivery_id,), queue=WEBHOOK_QUEUE, countdown=countdown)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError for the 3xx


_opener = urllib.request.build_opener(_NoRedirect)


def _claim(delivery_id: int):
    lease = conf.get("WEBHOOK_LEASE_SECONDS")
    with connection.cursor() as cur:  # autocommit: the claim is visible to every other worker at once
        cur.execute("""UPDATE trading_webhookdelivery d
                          SET attempts = d.attempts + 1,
                              next_attempt_at = clock_timestamp() + %s * interval '1 second'
                         FROM trading_webhookendpoint e
                        WHERE d.id = %s AND d.endpoint_id = e.id AND d.status = 'pending'
                          AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= clock_timestamp())
                    RETURNING d.attempts, d.payload, d.event, e.url, e.secret, e.active""", [lease, delivery_id])
        return cur.fetchone()


def deliver(delivery_id: int) -> tuple[str, float | None]:
    """One delivery attempt. Returns (outcome, seconds until the next attempt or None)."""
    claimed = _claim(delivery_id)
    if claimed is None:
        return "skipped", None
    attempts, payload, event, url, secret, active = claimed
    payload = payload if isinstance(payload, dict) else json.loads(payload)
    if not active:
        _finish(delivery_id, "gave_up", "endpoint inactive")
        return "gave_up", None
    body = body_bytes(payload)
    error = None
    try:
        check_url(url)
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Event-Id": payload.get("id", ""),
            "X-Event-Type": payload.get("type", f"trade.{event}"), "X-Signature": sign(secret, body)})
        with _opener.open(request, timeout=timeout_seconds()) as response:
            response.read(1024)
            if not 200 <= response.status < 300:
                error = f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        error = f"HTTP {exc.code}"
    except UrlRefused as exc:
        error = f"refused URL: {exc}"
    except Exception as exc:  # noqa: BLE001 - network errors of every kind are a failed attempt
        error = f"{type(exc).__name__}: {exc}"[:300]
    if error is None:
        _finish(delivery_id, "delivered", "")
        return "delivered", None
    if attempts >= max_attempts():
        _finish(delivery_id, "gave_up", error)
        log.warning("webhook delivery %s gave up after %s attempts: %s", delivery_id, attempts, error)
        return "gave_up", None
    delay = backoff_seconds(attempts)
    with connection.cursor() as cur:
        cur.execute("""UPDATE trading_webhookdelivery
                          SET last_error = %s, next_attempt_at = clock_timestamp() + %s * interval '1 second'
                        WHERE id = %s AND status = 'pending'""", [error[:300], delay, delivery_id])
    return "retry", delay


def _finish(delivery_id: int, status: str, error: str) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        status=status, last_error=error[:300], delivered_at=timezone.now() if status == "delivered" else None)


def due_deliveries(*, limit: int = 500, grace_seconds: float = 2.0) -> list[int]:
    """Pending deliveries due for `grace_seconds` already (fresh ones are being sent by their own task)."""
    with connection.cursor() as cur:
        cur.execute("""SELECT id FROM trading_webhookdelivery
                        WHERE status = 'pending' AND next_attempt_at <= clock_timestamp() - %s * interval '1 second'
                        ORDER BY next_attempt_at LIMIT %s""", [grace_seconds, limit])
        return [r[0] for r in cur.fetchall()]
