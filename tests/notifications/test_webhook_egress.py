"""What leaves the system by webhook (#14 item 13): only globally routable addresses, checked at
registration and at every attempt; the attempt connects to the address that was checked (DNS rebinding);
Standard Webhooks signatures verified by an independent implementation of the spec, with a rotation's
overlap window; a participant sees a generic delivery error, the operator the detail."""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import socket
import ssl
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from django.utils import timezone

from accounts.actor import Actor
from trading.models import WebhookDelivery, WebhookEndpoint
from trading.orderbook.services import order_place

SYSTEM = Actor.system()
PUBLIC_IP = "93.184.216.34"


# --- an independent implementation of https://www.standardwebhooks.com (receiver side) --------------

def standard_verify(secret: str, headers: dict, body: bytes, *, tolerance: int = 300) -> bool:
    headers = {k.lower(): v for k, v in headers.items()}
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret.split("_", 1)[1])
    signed_content = f"{msg_id}.{timestamp}.{body.decode('utf-8')}"
    expected = base64.b64encode(hmac.new(key, signed_content.encode(), hashlib.sha256).digest()).decode()
    for versioned in headers["webhook-signature"].split(" "):
        version, _, signature = versioned.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


# --- a local receiver, a trade ------------------------------------------------------------------------

class Receiver:
    def __init__(self, status: int = 200):
        self.status, self.requests = status, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def factory(status=200):
        made.append(Receiver(status))
        return made[-1]

    yield factory
    for r in made:
        r.close()


@pytest.fixture
def parties(make_org, make_market, fund, make_member, client_for):
    market = make_market()
    buyer, seller = make_org("enterprise", "350102"), make_org("enterprise", "350203")
    fund(buyer, cny=100_000_000)
    fund(seller, market=market, quantity=100_000)
    return market, buyer, seller, client_for(make_member(buyer, "admin"))


def cross(market, buyer, seller):
    order_place(actor=SYSTEM, organization=seller, market_id=market.id, side="sell", price=10_000, quantity=1_000)
    [trade] = order_place(actor=SYSTEM, organization=buyer, market_id=market.id, side="buy", price=10_000,
                          quantity=1_000).trades
    return WebhookDelivery.objects.get(trade_id=trade.id, endpoint__organization=buyer, event="matched")


@pytest.fixture
def dns(monkeypatch):
    """A resolver stub: `dns.answers[name]` is a list of addresses handed out one call after another (the
    last one repeats), `dns.asked` the names asked; every other name goes to the real resolver."""
    real = socket.getaddrinfo
    answers: dict[str, list[str]] = {}
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, bytes):
            host = host.decode()
        if host in answers:
            asked.append(host)
            queue = answers[host]
            address = queue.pop(0) if len(queue) > 1 else queue[0]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port or 0)))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return SimpleNamespace(answers=answers, asked=asked)


# --- the address policy -------------------------------------------------------------------------------

REFUSED = ["100.100.100.200", "100.64.0.1", "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1",
           "169.254.169.254", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "0.0.0.0",
           "192.0.2.10", "198.18.0.1", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1",
           "::ffff:127.0.0.1", "::ffff:8.8.8.8", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1",
           "2002:a9fe:a9fe::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2"]
ACCEPTED = ["8.8.8.8", PUBLIC_IP, "2606:4700:4700::1111", "2002:808:808::1"]


@pytest.mark.parametrize("raw", REFUSED)
def test_public_address_refuses(raw):
    from trading.notifications.delivery import public_address

    assert not public_address(ipaddress.ip_address(raw))


@pytest.mark.parametrize("raw", ACCEPTED)
def test_public_address_accepts(raw):
    from trading.notifications.delivery import public_address

    assert public_address(ipaddress.ip_address(raw))


@pytest.mark.django_db
def test_registration_refuses_shared_and_mapped_addresses(parties, dns):
    *_, admin = parties
    dns.answers["metadata.test"] = ["100.100.100.200"]
    dns.answers["public.test"] = [PUBLIC_IP]
    for url in ("http://100.100.100.200/latest/meta-data", "http://metadata.test/hook", "http://[::ffff:a9fe:a9fe]/x",
                "http://224.0.0.1/x", "https://[64:ff9b::a00:1]/x"):
        r = admin.post("/api/v1/webhooks", {"url": url}, format="json")
        assert r.status_code == 400 and "url" in r.json()["fields"], (url, r.json())
    assert admin.post("/api/v1/webhooks", {"url": "https://public.test/hook"}, format="json").status_code == 201


@pytest.mark.django_db
def test_delivery_to_a_shared_address_is_refused_without_connecting(parties, monkeypatch):
    """An endpoint stored before the rule (or by other means) is checked again at every attempt."""
    market, buyer, seller, _ = parties
    WebhookEndpoint.objects.create(organization=buyer, url="http://100.100.100.200/hook", secret="whsec_AAAA")
    connects = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connects.append(a) or (_ for _ in ()).throw(
        ConnectionRefusedError("stub")))
    delivery = cross(market, buyer, seller)
    from trading.notifications.delivery import deliver

    assert deliver(delivery.id)[0] == "retry"
    delivery.refresh_from_db()
    assert delivery.last_error == "refused URL: must resolve to a public address"
    assert connects == []


@pytest.mark.django_db
def test_dns_rebinding_connects_to_the_checked_address(parties, dns, receiver, monkeypatch):
    """The name answers a public address to the checks (registration, then the attempt's) and 127.0.0.1
    to anyone who asks again: the attempt must connect to the public address it checked, so the local
    receiver never sees the request."""
    from trading.notifications.delivery import deliver

    market, buyer, seller, admin = parties
    local = receiver()
    dns.answers["rebind.test"] = [PUBLIC_IP, PUBLIC_IP, "127.0.0.1"]
    r = admin.post("/api/v1/webhooks", {"url": f"http://rebind.test:{local.port}/hook"}, format="json")
    assert r.status_code == 201, r.json()
    real_connect = socket.create_connection
    targets = []

    def create_connection(address, *args, **kwargs):
        targets.append(address)
        if address[0] == PUBLIC_IP:
            raise ConnectionRefusedError("no route in the test")  # the vetted address, not reachable here
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    delivery = cross(market, buyer, seller)
    assert deliver(delivery.id)[0] == "retry"
    assert local.requests == []
    assert targets == [(PUBLIC_IP, local.port)]
    assert dns.asked == ["rebind.test", "rebind.test"]  # once at registration, once for the attempt


@pytest.mark.django_db
def test_attempt_sends_host_header_of_the_name_and_https_sni(parties, dns, receiver, settings, monkeypatch):
    from trading.notifications import delivery as webhooks

    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    market, buyer, seller, admin = parties
    local = receiver()
    dns.answers["hooks.partner.test"] = ["127.0.0.1"]
    assert admin.post("/api/v1/webhooks", {"url": f"http://hooks.partner.test:{local.port}/in?x=1"},
                      format="json").status_code == 201
    delivery = cross(market, buyer, seller)
    assert webhooks.deliver(delivery.id)[0] == "delivered"
    [request] = local.requests
    assert request["headers"]["Host"] == f"hooks.partner.test:{local.port}"

    # HTTPS: the socket goes to the vetted address, TLS names the host (SNI and certificate check)
    wrapped = []

    class Context:
        verify_mode, check_hostname, post_handshake_auth = ssl.CERT_REQUIRED, True, None

        def wrap_socket(self, sock, server_hostname=None, **kwargs):
            wrapped.append(server_hostname)
            raise ConnectionAbortedError("stop here")

    listener = socket.create_server(("127.0.0.1", 0))
    real_connect, opened = socket.create_connection, []

    def create_connection(address, *args, **kwargs):
        opened.append(address)
        return real_connect(listener.getsockname(), *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    conn = webhooks._PinnedHTTPSConnection("hooks.partner.test", 8443, address=PUBLIC_IP, timeout=1,
                                           context=Context())
    with pytest.raises(ConnectionAbortedError):
        conn.request("POST", "/", body=b"{}")
    conn.close()
    listener.close()
    assert opened == [(PUBLIC_IP, 8443)] and wrapped == ["hooks.partner.test"]


# --- signatures -----------------------------------------------------------------------------------------

def test_signature_matches_the_specs_example():
    """The example of the Standard Webhooks specification and its reference libraries."""
    from trading.notifications.delivery import sign

    assert sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                b'{"test": 2432232314}') == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.django_db
def test_delivery_is_signed_in_the_standard_form_with_a_rotation_window(parties, receiver, settings):
    from trading.notifications.delivery import deliver, verify_signature

    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    market, buyer, seller, admin = parties
    local = receiver()
    created = admin.post("/api/v1/webhooks", {"url": f"http://127.0.0.1:{local.port}/hook"}, format="json").json()
    old = created["secret"]
    assert old.startswith("whsec_") and len(base64.b64decode(old[6:])) == 32

    def send():
        delivery = cross(market, buyer, seller)
        assert deliver(delivery.id)[0] == "delivered"
        request = local.requests[-1]
        assert request["headers"]["webhook-id"] == delivery.payload["id"]
        assert abs(int(request["headers"]["webhook-timestamp"]) - time.time()) < 60
        return request

    request = send()
    assert standard_verify(old, request["headers"], request["body"])
    assert verify_signature(old, request["body"], request["headers"])
    assert not verify_signature(old, request["body"], request["headers"], now=time.time() + 3600)  # replayed late
    assert "X-Signature" not in request["headers"]

    # rotation: both secrets sign during the overlap window
    rotated = admin.post(f"/api/v1/webhooks/{created['id']}/rotate-secret", {"overlap_seconds": 600},
                         format="json").json()
    new = rotated["secret"]
    assert new != old and rotated["previous_secret_until"]
    request = send()
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    assert standard_verify(old, request["headers"], request["body"])
    assert standard_verify(new, request["headers"], request["body"])

    # after the window only the new secret signs
    WebhookEndpoint.objects.filter(pk=created["id"]).update(previous_secret_until=timezone.now() - timedelta(seconds=1))
    request = send()
    assert len(request["headers"]["webhook-signature"].split(" ")) == 1
    assert standard_verify(new, request["headers"], request["body"])
    assert not standard_verify(old, request["headers"], request["body"])

    # overlap 0 (a leaked secret): the old one stops at once
    newest = admin.post(f"/api/v1/webhooks/{created['id']}/rotate-secret", {"overlap_seconds": 0},
                        format="json").json()["secret"]
    request = send()
    assert standard_verify(newest, request["headers"], request["body"])
    assert not standard_verify(new, request["headers"], request["body"])
    assert admin.post(f"/api/v1/webhooks/{created['id']}/rotate-secret", {"overlap_seconds": -1},
                      format="json").status_code == 400


def test_default_overlap_is_a_setting(settings):
    from trading.notifications.delivery import rotate_secret

    settings.WEBHOOK_SECRET_OVERLAP_SECONDS = 120
    endpoint = WebhookEndpoint(secret="whsec_" + base64.b64encode(b"k" * 32).decode())
    before = timezone.now()
    rotate_secret(endpoint)
    assert endpoint.previous_secret.startswith("whsec_") and endpoint.secret != endpoint.previous_secret
    assert before + timedelta(seconds=119) < endpoint.previous_secret_until <= timezone.now() + timedelta(seconds=120)


# --- who sees the error's detail ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_participant_sees_a_generic_error_and_the_operator_the_detail(parties, receiver, settings, operator_org,
                                                                     make_member, client_for):
    from trading.notifications.delivery import deliver

    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    market, buyer, seller, admin = parties
    failing = receiver(status=503)
    endpoint = admin.post("/api/v1/webhooks", {"url": f"http://127.0.0.1:{failing.port}/hook"}, format="json").json()
    delivery = cross(market, buyer, seller)
    assert deliver(delivery.id)[0] == "retry"

    [mine] = admin.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries").json()
    assert mine["last_error"] == "delivery failed" and "503" not in str(mine)
    operator = client_for(make_member(operator_org, "admin"))
    rows = operator.get("/api/v1/webhook-deliveries", {"organization": buyer.id}).json()["results"]
    assert [(r["id"], r["last_error"], r["organization"]) for r in rows] == [(delivery.id, "HTTP 503", buyer.id)]
    assert operator.get("/api/v1/webhook-deliveries", {"status": "delivered"}).json()["results"] == []
    assert operator.get("/api/v1/webhook-deliveries", {"status": "nonsense"}).status_code == 400
    assert admin.get("/api/v1/webhook-deliveries").status_code == 403
