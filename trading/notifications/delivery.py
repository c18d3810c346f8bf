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

Request: `POST <url>`, body = the payload as compact JSON (UTF-8, sorted keys), signed in the Standard
Webhooks form (https://www.standardwebhooks.com):
  Content-Type: application/json
  webhook-id: <stable id of this event for this endpoint (the same on every retry; deduplicate on it)>
  webhook-timestamp: <Unix seconds of this attempt (receivers refuse one older than a few minutes)>
  webhook-signature: v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">
  X-Event-Type: trade.<event>      X-Event-Id: <same as webhook-id, kept for older receivers>
The key is the base64 part of the endpoint's secret `whsec_<base64>` (a secret issued before this form,
without the prefix, is used as its UTF-8 bytes). After a rotation the old secret signs too, for an overlap
window (WEBHOOK_SECRET_OVERLAP_SECONDS, or `overlap_seconds` in the rotate request): the header then carries
two space-separated signatures and a receiver accepts the delivery if either verifies.

Address policy (SSRF): an endpoint's host must resolve only to globally routable unicast addresses
(`public_address`: no loopback, private, shared 100.64/10, link-local, multicast, reserved, unspecified,
documentation, IPv4-mapped/NAT64/6to4/Teredo forms of those). It is checked at registration and again at
every attempt, and the attempt connects to the very address that was checked (`_PinnedHTTP*Connection`:
the socket goes to the vetted IP while Host and TLS SNI/certificate name stay the URL's host), so a DNS
answer that changes between check and connect (DNS rebinding) cannot redirect a delivery. Redirects are
not followed (a 3xx is a failed attempt). WEBHOOK_ALLOW_PRIVATE_URLS (development, tests) lifts the
public-address rule only; the pinning stays.

Errors: `last_error` keeps the detail (for the operator); a participant's delivery list shows only
"delivery failed" (`participant_error`): a detail such as "connection refused" would make the webhook
sender a port scanner of the operator's network.

Knobs (Django setting, else environment variable, else default): WEBHOOK_TIMEOUT_SECONDS (3),
WEBHOOK_MAX_ATTEMPTS (8), WEBHOOK_RETRY_BASE_SECONDS (10), WEBHOOK_RETRY_MAX_SECONDS (3600),
WEBHOOK_LEASE_SECONDS (60), WEBHOOK_SECRET_OVERLAP_SECONDS (86400), WEBHOOK_ALLOW_PRIVATE_URLS (off).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.db import connection, transaction
from django.utils import timezone

from core import conf
from core.api import local_time
from core.broker import publish
from core.money import from_minor
from core.prepared import PreparedQuery, Sql
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


def overlap_seconds() -> int:
    return conf.get("WEBHOOK_SECRET_OVERLAP_SECONDS")


SECRET_PREFIX = "whsec_"
GENERIC_ERROR = "delivery failed"


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (the Standard Webhooks secret form)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX):])
    return secret.encode()  # a secret issued before the whsec_ form


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of `msg_id.timestamp.body`."""
    mac = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signature_header(keys: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """Space-separated signatures, one per secret (two during a rotation's overlap window)."""
    return " ".join(sign(k, msg_id, timestamp, body) for k in keys)


def verify_signature(secret: str, body: bytes, headers, *, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver does: the timestamp within `tolerance` seconds, and one of the `v1` signatures
    equal (constant time) to ours."""
    headers = {k.lower(): v for k, v in dict(headers).items()}
    msg_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not msg_id or not stamp.isascii() or not stamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        return False
    expected = sign(secret, msg_id, int(stamp), body)
    return any(hmac.compare_digest(expected, candidate)
               for candidate in headers.get("webhook-signature", "").split() if candidate.startswith("v1,"))


def participant_error(last_error: str) -> str:
    return GENERIC_ERROR if last_error else ""


def body_bytes(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# --- URL policy ---------------------------------------------------------------------------------------

class UrlRefused(ValueError):
    pass


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A globally routable unicast address (`is_global` alone lets multicast through, and IPv6 forms
    that embed an IPv4 address are judged by the embedded address or refused)."""
    if address.version == 6:
        if address.ipv4_mapped is not None or address.teredo is not None:
            return False
        if address.sixtofour is not None:
            return public_address(address.sixtofour)
        if any(address in net for net in _NAT64):
            return public_address(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.scope_id:
            return False
    return (address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified
                                       or address.is_loopback or address.is_link_local or address.is_private))


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (an IP literal: itself). One place, so a test can stub it."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [info[4][0] for info in infos]


def vet_url(url: str) -> tuple[str, int, str]:
    """Check `url` and return (host, port, address to connect to). Every address the name resolves to
    must be public (unless private addresses are allowed); the first one is the one to use."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlRefused("must be an http or https URL")
    if parts.username or parts.password:
        raise UrlRefused("must not contain credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UrlRefused("invalid port")
    try:
        addresses = resolve(parts.hostname, port)
    except (socket.gaierror, UnicodeError, OSError):
        raise UrlRefused("host name does not resolve")
    if not addresses:
        raise UrlRefused("host name does not resolve")
    if not conf.get("WEBHOOK_ALLOW_PRIVATE_URLS"):
        for raw in addresses:
            try:
                address = ipaddress.ip_address(raw)
            except ValueError:
                raise UrlRefused("must resolve to a public address")
            if not public_address(address):
                raise UrlRefused("must resolve to a public address")
    return parts.hostname, port, addresses[0].split("%")[0]


def check_url(url: str) -> None:
    """Raise UrlRefused unless `url` is http(s) to a public address (or private addresses are allowed)."""
    vet_url(url)


# --- recording (inside the transition's transaction) ---------------------------------------------------

def _payload(trade: Trade, event: str, status: str, endpoint_id: int, organization_id: int, scale: int,
             market_code: str | None, now) -> dict:
    side = "buy" if organization_id == trade.buyer_id else "sell"
    fee = trade.buyer_fee if side == "buy" else trade.seller_fee
    return {
        "id": f"evt_{trade.id}_{event}_{endpoint_id}",
        "type": f"trade.{event}",
        "created_at": local_time(now),
        "organization": organization_id,
        "trade": {
            "id": trade.id, "market": market_code, "source": trade.source, "side": side,
            "price": from_minor(trade.price, 2), "quantity": from_minor(trade.quantity, scale),
            "value": from_minor(trade.value, 2), "fee": from_minor(fee, 2), "status": status,
            "settled_at": local_time(trade.settled_at),
            "ledger_transaction_id": trade.ledger_transaction_id,
            "failure_reason": trade.failure_reason or None,
        },
    }


# the parties' active endpoints (id, organization, events): read for every matching that makes trades, so
# prepared once per session rather than a queryset compiled each time
ACTIVE_ENDPOINTS = PreparedQuery(Sql(f"""SELECT id, organization_id, events FROM {WebhookEndpoint._meta.db_table}
                                         WHERE active AND organization_id = ANY(%(organizations)s)""",
                                     organizations="bigint[]"))


def record_trade_events(trades: list[Trade], status: str, *, asset=None, endpoints=None) -> list[int]:
    """Insert the deliveries of `status` for `trades` (ON CONFLICT DO NOTHING: recording twice is
    harmless) and send them after commit. One SELECT when nobody has an endpoint (none when the caller
    read the parties' active `endpoints`, as (id, organization id, events), already)."""
    event = STATUS_EVENT.get(status)
    if event is None or not trades:
        return []
    if endpoints is None:
        org_ids = sorted({t.buyer_id for t in trades} | {t.seller_id for t in trades})
        with connection.cursor() as cur:
            ACTIVE_ENDPOINTS.execute(cur, {"organizations": org_ids})
            endpoints = cur.fetchall()
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


def _pinned(connection_class):
    class Pinned(connection_class):
        """Connects to the vetted `address`; Host header, SNI and certificate check use the URL's host."""

        def __init__(self, host, port, *, address, **kwargs):
            super().__init__(host, port, **kwargs)
            self._create_connection = lambda target, timeout, source=None: socket.create_connection(
                (address, target[1]), timeout, source)

    Pinned.__name__ = f"_Pinned{connection_class.__name__}"
    return Pinned


_PinnedHTTPConnection = _pinned(http.client.HTTPConnection)
_PinnedHTTPSConnection = _pinned(http.client.HTTPSConnection)


def post(url: str, body: bytes, headers: dict, *, timeout: float) -> int:
    """POST `body` to `url` at the address `vet_url` checked; the response status (no redirects)."""
    host, port, address = vet_url(url)
    parts = urlsplit(url)
    if parts.scheme == "https":
        conn = _PinnedHTTPSConnection(host, port, address=address, timeout=timeout,
                                      context=ssl.create_default_context())
    else:
        conn = _PinnedHTTPConnection(host, port, address=address, timeout=timeout)
    try:
        conn.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=body,
                     headers=headers)
        response = conn.getresponse()
        response.read(1024)
        return response.status
    finally:
        conn.close()


def _claim(delivery_id: int):
    lease = conf.get("WEBHOOK_LEASE_SECONDS")
    with connection.cursor() as cur:  # autocommit: the claim is visible to every other worker at once
        cur.execute("""UPDATE trading_webhookdelivery d
                          SET attempts = d.attempts + 1,
                              next_attempt_at = clock_timestamp() + %s * interval '1 second'
                         FROM trading_webhookendpoint e
                        WHERE d.id = %s AND d.endpoint_id = e.id AND d.status = 'pending'
                          AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= clock_timestamp())
                    RETURNING d.attempts, d.payload, d.event, e.url, e.secret, e.active, e.previous_secret,
                              e.previous_secret_until > clock_timestamp()""", [lease, delivery_id])
        return cur.fetchone()


def deliver(delivery_id: int) -> tuple[str, float | None]:
    """One delivery attempt. Returns (outcome, seconds until the next attempt or None)."""
    claimed = _claim(delivery_id)
    if claimed is None:
        return "skipped", None
    attempts, payload, event, url, secret, active, previous, previous_valid = claimed
    payload = payload if isinstance(payload, dict) else json.loads(payload)
    if not active:
        _finish(delivery_id, "gave_up", "endpoint inactive")
        return "gave_up", None
    body = body_bytes(payload)
    msg_id = payload.get("id", "") or f"delivery_{delivery_id}"
    timestamp = int(time.time())
    keys = [secret, previous] if previous and previous_valid else [secret]
    error = None
    try:
        status = post(url, body, {
            "Content-Type": "application/json", "User-Agent": USER_AGENT,
            "webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(keys, msg_id, timestamp, body),
            "X-Event-Id": msg_id, "X-Event-Type": payload.get("type", f"trade.{event}")},
            timeout=timeout_seconds())
        if not 200 <= status < 300:
            error = f"HTTP {status}"
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


def rotate_secret(endpoint, *, overlap: int | None = None) -> None:
    """A new current secret; the old one keeps signing for `overlap` seconds (default
    WEBHOOK_SECRET_OVERLAP_SECONDS; 0 ends it at once, e.g. after a leak). A rotation inside a window
    replaces the older previous secret."""
    overlap = overlap_seconds() if overlap is None else overlap
    endpoint.previous_secret = endpoint.secret if overlap > 0 else ""
    endpoint.previous_secret_until = timezone.now() + timedelta(seconds=overlap) if overlap > 0 else None
    endpoint.secret = new_secret()


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
