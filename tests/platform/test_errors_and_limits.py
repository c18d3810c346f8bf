"""No 500 from input, and every error under /api/ is the envelope (issue 14 items 2 and 4).

* 404, 405, 413 and 500 under /api/ are {code, message, fields, request_id}; outside /api/ a plain page
  that shows no URL map, settings or traceback (DEBUG is off unless asked for);
* bodies over settings.REQUEST_MAX_BYTES: 413; JSON nested deeper than settings.JSON_MAX_DEPTH: 400
  before parsing (100,000 levels was a RecursionError 500 on every JSON endpoint, /auth/login included);
* a NUL in any string field, key or query parameter: 400 `nul_character` naming the field;
* amounts beyond their unit's cap (settings.AMOUNT_CAPS) or the bigint-safe range: 400
  `amount_out_of_range`; a sum that would still overflow a bigint is a 422 `value_out_of_range`.
"""
import io

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from core.errors import CODES
from core.parsers import StrictJSONParser, nesting_exceeds
from ledger.models import Account, Asset, LedgerTransaction
from trading.models import Listing, Order

ENVELOPE = {"code", "message", "fields", "request_id"}


def envelope(response, status, code):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == ENVELOPE and body["code"] == code, body
    assert body["request_id"] == response["X-Request-ID"]
    assert CODES[code][0] == status
    return body


# --- 404 / 405 / 500: the envelope under /api/, a plain page elsewhere -------------------------------

@pytest.mark.django_db
def test_unknown_api_url_is_the_404_envelope():
    body = envelope(Client().get("/api/v1/no-such-thing"), 404, "not_found")
    assert body["message"] == "对象不存在"  # Chinese by default
    r = Client(HTTP_ACCEPT_LANGUAGE="en").get("/api/v1/no-such-thing")
    assert r.json()["message"] == "Not found"


@pytest.mark.django_db
def test_wrong_method_is_the_405_envelope():
    envelope(APIClient().delete("/api/v1/auth/login"), 405, "method_not_allowed")


@pytest.mark.django_db
def test_pages_outside_the_api_show_no_url_map(settings):
    assert settings.DEBUG is False
    r = Client().get("/no-such-page")
    assert r.status_code == 404
    text = r.content.decode()
    assert "URLconf" not in text and "api/v1/" not in text and "admin/" not in text


@pytest.mark.django_db
@pytest.mark.urls("tests.platform.boom_urls")
def test_a_bug_under_the_api_is_the_500_envelope_and_logged(caplog):
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en")
    body = envelope(client.get("/api/v1/boom", HTTP_X_REQUEST_ID="trace-me-1"), 500, "server_error")
    assert body["request_id"] == "trace-me-1" and "RuntimeError" not in str(body)
    assert any(r.levelname == "ERROR" and "a bug in an API view" in str(r.exc_info) for r in caplog.records)


@pytest.mark.django_db
@pytest.mark.urls("tests.platform.boom_urls")
def test_a_bug_in_a_page_is_a_plain_500_page():
    r = Client(raise_request_exception=False).get("/boom")
    assert r.status_code == 500
    text = r.content.decode()
    assert "Traceback" not in text and "a bug in a page" not in text and "SECRET_KEY" not in text


@pytest.mark.django_db
def test_static_files_are_served_with_debug_off(settings, tmp_path):
    """make run is production-like (DEBUG off): whitenoise serves the collected static files, Swagger UI's
    (drf-spectacular-sidecar) included."""
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", "--noinput", "-v", "0")
    client = Client()  # a new handler: whitenoise indexes STATIC_ROOT when it is created
    for path in ("/static/admin/css/base.css", "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert b"".join(r.streaming_content)


# --- size --------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_body_over_the_limit_is_the_413_envelope(settings):
    settings.REQUEST_MAX_BYTES = 10_000
    big = '{"username": "' + "x" * 20_000 + '", "password": "p"}'
    body = envelope(APIClient(HTTP_ACCEPT_LANGUAGE="en").post("/api/v1/auth/login", big,
                                                              content_type="application/json"),
                    413, "request_too_large")
    assert "10000" in body["message"]


def test_the_parser_stops_reading_at_the_limit(settings):
    """A body whose length was not announced (or understated) is cut off by the parser itself."""
    settings.REQUEST_MAX_BYTES = 100
    from core.errors import DomainError

    with pytest.raises(DomainError) as refused:
        StrictJSONParser().parse(io.BytesIO(b'{"a": "' + b"x" * 1000 + b'"}'), parser_context={})
    assert refused.value.code == "request_too_large" and refused.value.status_code == 413


# --- depth -------------------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/auth/login", "/api/v1/orders", "/api/v1/listings", "/api/v1/cash/deposits"])
@pytest.mark.parametrize("shape", ["[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000,
                                   '{"username": ' + "[" * 50_000], ids=["arrays", "objects", "unterminated"])
def test_deep_nesting_is_refused_before_parsing(trading_world, url, shape):
    client = (APIClient() if "auth" in url else trading_world.operator_client if "cash" in url
              else trading_world.buyer_client)
    envelope(client.post(url, shape, content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep"),
             400, "nesting_too_deep")


@pytest.mark.django_db
def test_nesting_up_to_the_limit_is_parsed(trading_world, settings):
    w = trading_world
    deep = {"kind": "fixed_price", "asset": w.market.asset_id, "quantity": "1", "price": "1.00",
            "provenance": {"reduction_measure": "x", "discharge_permit_no": "y"}}
    inner = {}
    node = inner
    for _ in range(settings.JSON_MAX_DEPTH - 3):  # the body, provenance and note add three levels
        node["n"] = {}
        node = node["n"]
    deep["provenance"]["note"] = inner
    r = w.seller_client.post("/api/v1/listings", deep, format="json")
    assert r.status_code == 201, r.json()  # parsed and accepted
    node["n"] = {}
    envelope(w.seller_client.post("/api/v1/listings", deep, format="json"), 400, "nesting_too_deep")


def test_brackets_inside_strings_do_not_count():
    assert not nesting_exceeds('{"a": "' + "[" * 1000 + '"}', 32)
    assert not nesting_exceeds('{"a": "\\"' + "{" * 1000 + '"}', 32)
    assert nesting_exceeds("[" * 33 + "]" * 33, 32) and not nesting_exceeds("[" * 32 + "]" * 32, 32)


@pytest.mark.django_db
@pytest.mark.parametrize("text", ['{"username": NaN, "password": "x"}', '{"username": Infinity}',
                                  '{"username": ' + "9" * 5000 + "}"])
def test_non_json_numbers_are_malformed(text):
    envelope(APIClient().post("/api/v1/auth/login", text, content_type="application/json"), 400, "malformed_request")


# --- NUL ---------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_nul_in_provenance_is_a_field_error(trading_world):
    w = trading_world
    before = Listing.objects.count()
    r = w.seller_client.post("/api/v1/listings", {
        "kind": "fixed_price", "asset": w.market.asset_id, "quantity": "1", "price": "1.00",
        "provenance": {"reduction_measure": "SCR\u0000", "discharge_permit_no": "y"}}, format="json")
    body = envelope(r, 400, "nul_character")
    assert list(body["fields"]) == ["provenance.reduction_measure"]
    assert Listing.objects.count() == before


@pytest.mark.django_db
def test_nul_in_login_and_in_keys_and_lists(trading_world):
    body = envelope(APIClient().post("/api/v1/auth/login", {"username": "a\u0000", "password": "x"}, format="json"),
                    400, "nul_character")
    assert list(body["fields"]) == ["username"]
    w = trading_world
    r = w.buyer_client.post("/api/v1/orders", {"market": w.market.id, "side": "buy", "price": "1.00",
                                               "quantity": "1", "client_order_id": ["ok", "b\u0000d"],
                                               "x\u0000": 1}, format="json")
    body = envelope(r, 400, "nul_character")
    assert set(body["fields"]) == {"client_order_id[1]", "x\\u0000"}


@pytest.mark.django_db
def test_nul_in_a_query_parameter(trading_world):
    body = envelope(trading_world.buyer_client.get("/api/v1/orders?status=open%00"), 400, "nul_character")
    assert list(body["fields"]) == ["status"]


# --- amounts -----------------------------------------------------------------------------------------

def _deposit(client, org, amount, key):
    return client.post("/api/v1/cash/deposits", {"organization": org.id, "amount": amount, "bank_reference": key},
                       format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["46116860184273879.03", "92233720368547758.07", "1000000000000.01",
                                    "9" * 39])
def test_implausible_deposits_are_refused(trading_world, amount):
    w = trading_world
    before = LedgerTransaction.objects.count()
    body = envelope(_deposit(w.operator_client, w.buyer, amount, "big-1"), 400, "amount_out_of_range")
    assert body["fields"]["amount"][0]["code"] == "amount_out_of_range"
    assert LedgerTransaction.objects.count() == before


@pytest.mark.django_db
def test_the_cap_itself_is_accepted_and_configurable(trading_world, settings):
    w = trading_world
    assert _deposit(w.operator_client, w.buyer, "1000000000000.00", "cap-1").status_code in (200, 201)
    assert _deposit(w.operator_client, w.seller, "1000000000000.00", "cap-2").status_code in (200, 201)
    settings.AMOUNT_CAPS = {**settings.AMOUNT_CAPS, "CNY": "1000"}
    envelope(_deposit(w.operator_client, w.buyer, "1000.01", "cap-3"), 400, "amount_out_of_range")


@pytest.mark.django_db
def test_a_sum_beyond_bigint_is_a_4xx_not_a_500(trading_world, settings):
    """With the caps lifted to the bigint-safe maximum, two deposits of 46,116,860,184,273,879.03 yuan to
    two organizations overflow the operator-side account: refused (422), nothing written, no 500."""
    w = trading_world
    settings.AMOUNT_CAPS = {**settings.AMOUNT_CAPS, "CNY": "100000000000000000000"}
    assert _deposit(w.operator_client, w.buyer, "46116860184273879.03", "huge-1").status_code in (200, 201)
    before = LedgerTransaction.objects.count()
    r = _deposit(w.operator_client, w.seller, "46116860184273879.03", "huge-2")
    envelope(r, 422, "value_out_of_range")
    assert LedgerTransaction.objects.count() == before
    assert Account.objects.filter(organization=w.seller, asset=Asset.objects.get(code="CNY"), available__gt=10**18)\
        .count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("field,value", [("quantity", "100000000.001"), ("price", "1000000000000.01")])
def test_order_amounts_are_capped(trading_world, field, value):
    w = trading_world
    before = Order.objects.count()
    body = {"market": w.market.id, "side": "buy", "price": "1.00", "quantity": "1", field: value}
    envelope(w.buyer_client.post("/api/v1/orders", body, format="json"), 400, "amount_out_of_range")
    assert Order.objects.count() == before


@pytest.mark.django_db
def test_an_order_value_beyond_the_cash_cap_is_refused(trading_world):
    w = trading_world
    body = {"market": w.market.id, "side": "buy", "price": "1000000000000.00", "quantity": "100000000"}
    r = envelope(w.buyer_client.post("/api/v1/orders", body, format="json"), 400, "amount_out_of_range")
    assert list(r["fields"]) == ["quantity"]


@pytest.mark.django_db
def test_listing_amounts_are_capped(trading_world):
    w = trading_world
    r = w.seller_client.post("/api/v1/listings", {
        "kind": "fixed_price", "asset": w.market.asset_id, "quantity": "100000000.001", "price": "1.00",
        "provenance": {"reduction_measure": "x", "discharge_permit_no": "y"}}, format="json")
    envelope(r, 400, "amount_out_of_range")
    r = w.buyer_client.post(f"/api/v1/listings/{w.listing}/buy", {"quantity": "100000000.001"}, format="json")
    envelope(r, 400, "amount_out_of_range")
