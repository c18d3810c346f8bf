"""One convention each (issue 16 item 5, README "API conventions"): date ranges are since/until (from/to kept
one release, deprecated in the schema); one paging rule by kind of list (the old style of a list that moved
kept one release, deprecated in the schema); `ordering` on the main lists (a whitelist, id breaking ties,
400 `invalid_ordering` otherwise); one listing's bids advertise no listing filters; one name per thing (old
names deprecated)."""
import base64

import pytest
from drf_spectacular.generators import SchemaGenerator

# The paging rule (README "API conventions", core.api): a collection that grows with activity pages by cursor;
# a directory bounded by the register by page number (with a count); market-data windows take `limit`; bounded
# lists (one organization's holdings and webhooks, one listing's bids, the rulebooks) are not paged.
CURSOR = {"/api/v1/checkpoints", "/api/v1/statements", "/api/v1/oversight/alerts", "/api/v1/oversight/approvals",
          "/api/v1/oversight/audit", "/api/v1/oversight/trades", "/api/v1/movement-requests",
          "/api/v1/webhook-deliveries", "/api/v1/orders", "/api/v1/trades", "/api/v1/trades/events",
          "/api/v1/listings", "/api/v1/market-proposals",
          "/api/v1/assistance/payments", "/api/v1/assistance/commitments", "/api/v1/packages",
          "/api/v1/reserve/buybacks", "/api/v1/reserve/releases"}
PAGE = {"/api/v1/assets", "/api/v1/basins", "/api/v1/regions", "/api/v1/markets", "/api/v1/organizations",
        "/api/v1/memberships", "/api/v1/register/holdings", "/api/v1/oversight/markets",
        "/api/v1/oversight/organizations", "/api/v1/assistance/pairs", "/api/v1/reserve/designations"}
LIMIT = {"/api/v1/feed/trades", "/api/v1/markets/{id}/candles", "/api/v1/markets/{id}/trades"}
# moved in 2026-12: the old style still answers, deprecated in the schema, for one release
MOVED_TO_CURSOR = {"/api/v1/orders", "/api/v1/trades", "/api/v1/trades/events", "/api/v1/listings",
                   "/api/v1/market-proposals"}
MOVED_TO_PAGE = {"/api/v1/oversight/markets", "/api/v1/oversight/organizations"}
# the main lists offer `ordering`
ORDERED = {"/api/v1/orders", "/api/v1/trades", "/api/v1/listings", "/api/v1/market-proposals", "/api/v1/statements",
           "/api/v1/movement-requests", "/api/v1/oversight/trades", "/api/v1/oversight/approvals",
           "/api/v1/oversight/alerts"}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def _params(schema, path, method="get"):
    return {p["name"]: p for p in schema["paths"][path][method].get("parameters", [])}


def test_date_ranges_are_since_until_with_deprecated_aliases(schema):
    for path in ("/api/v1/statements", "/api/v1/exports/journal.csv", "/api/v1/exports/journal.jsonl",
                 "/api/v1/settlement/earmarked-report"):
        params = _params(schema, path)
        assert {"since", "until"} <= set(params), path
        assert not params["since"].get("deprecated") and not params["until"].get("deprecated")
        assert params["from"]["deprecated"] is True and params["to"]["deprecated"] is True, path
    for path, ops in schema["paths"].items():
        for operation in ops.values():
            for p in operation.get("parameters", []):
                if p["name"] in ("from", "to") and path != "/api/v1/checkpoints/consistency":
                    assert p.get("deprecated") is True, (path, p["name"])


def _is_list(operation) -> bool:
    for content in operation["responses"].get("200", {}).get("content", {}).values():
        schema = content.get("schema", {})
        return schema.get("type") == "array" or schema.get("$ref", "").split("/")[-1].startswith("Paginated")
    return False


def test_one_paging_rule(schema):
    """Every list endpoint follows the rule: its current style only; the old one only where it moved, and
    marked deprecated; every paginated list is classified (a new one must be put in CURSOR or PAGE)."""
    for path, ops in schema["paths"].items():
        if "get" not in ops:
            continue
        params = _params(schema, path)
        current = {n for n in ("page", "cursor", "limit") if n in params and not params[n].get("deprecated")}
        deprecated = {n for n in ("page", "cursor", "limit") if n in params and params[n].get("deprecated")}
        if path in CURSOR:
            assert current == {"cursor"}, (path, current)
            assert deprecated == ({"page"} if path in MOVED_TO_CURSOR else set()), (path, deprecated)
        elif path in PAGE:
            assert current == {"page"}, (path, current)
            assert deprecated == ({"cursor"} if path in MOVED_TO_PAGE else set()), (path, deprecated)
        elif path in LIMIT:
            assert current == {"limit"} and not deprecated, path
        else:
            assert not current and not deprecated, (path, "paged but not classified in CURSOR or PAGE")
            assert "Paginated" not in str(ops["get"]["responses"].get("200", {})), path
    assert all(_is_list(schema["paths"][p]["get"]) for p in CURSOR | PAGE | LIMIT)


def test_ordering_is_documented_on_the_main_lists(schema):
    for path, ops in schema["paths"].items():
        params = _params(schema, path) if "get" in ops else {}
        if path in ORDERED:
            values = params["ordering"]["schema"]["items"]["enum"]
            assert {"id", "-id"} <= set(values) and len(values) >= 4, (path, values)
            assert "invalid_ordering" in params["ordering"]["description"], path
        else:
            assert "ordering" not in params, path  # offered only where it is implemented


def test_bids_advertise_no_listing_filters(schema):
    bids = set(_params(schema, "/api/v1/listings/{id}/bids"))
    listing_filters = set(_params(schema, "/api/v1/listings")) - {"page", "page_size"}
    assert listing_filters and not bids & listing_filters, bids


def test_one_name_each_old_names_deprecated(schema):
    row = schema["components"]["schemas"]["PendingApprovalRow"]["properties"]
    assert "rule_codes" in row and "required_approvals" in row
    assert row["rules"]["deprecated"] is True and row["required"]["deprecated"] is True


@pytest.mark.django_db
def test_statements_accept_since_and_old_from(make_org, make_member, client_for):
    org = make_org("enterprise", "350102")
    client = client_for(make_member(org, "trader"))
    future = "2099-01-01T00:00:00+08:00"
    assert client.get("/api/v1/statements", {"since": future}).json()["results"] == []
    assert client.get("/api/v1/statements", {"from": future}).json()["results"] == []
    assert client.get("/api/v1/statements", {"since": "not-a-time"}).status_code == 400


# --- ordering and paging, through the API -----------------------------------------------------------------------

def _place(client, market, price, quantity="1"):
    r = client.post("/api/v1/orders", {"market": market.id, "side": "buy", "price": price, "quantity": quantity},
                    format="json")
    assert r.status_code == 201, r.json()
    return r.json()["order"]["id"]


def _walk_cursor(client, url, params):
    """Every row of a cursor list, following `next`."""
    rows, pages = [], 0
    r = client.get(url, params)
    while True:
        assert r.status_code == 200, r.json()
        body = r.json()
        assert "count" not in body  # the cursor style: no count, no OFFSET
        rows += body["results"]
        if not body["next"]:
            return rows
        pages += 1
        assert pages < 50
        r = client.get(body["next"])


@pytest.mark.django_db
def test_ordering_with_id_as_tie_breaker_across_cursor_pages(trading_world):
    w = trading_world
    prices = ["90.00", "95.00", "90.00", "99.00", "95.00", "90.00"]
    ids = [_place(w.buyer_client, w.market, p) for p in prices]
    by_price = [i for _p, i in sorted(zip([int(p[:2]) for p in prices], ids))]  # price, then id ascending
    rows = _walk_cursor(w.buyer_client, "/api/v1/orders", {"ordering": "price", "page_size": 2})
    assert [r["id"] for r in rows] == by_price
    down = _walk_cursor(w.buyer_client, "/api/v1/orders", {"ordering": "-price", "page_size": 4})
    assert [r["id"] for r in down] == list(reversed(by_price))  # -price, then -id
    both = _walk_cursor(w.buyer_client, "/api/v1/orders", {"ordering": "price,-id", "page_size": 5})
    assert [r["id"] for r in both] == [i for _p, _n, i in sorted((int(p[:2]), -i, i) for p, i in zip(prices, ids))]
    # without `ordering`: the documented order, newest first
    assert [r["id"] for r in _walk_cursor(w.buyer_client, "/api/v1/orders", {"page_size": 4})] == sorted(
        ids, reverse=True)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/orders", "/api/v1/trades", "/api/v1/listings", "/api/v1/statements",
                                 "/api/v1/movement-requests"])
@pytest.mark.parametrize("bad", ["organization", "price;drop", "", "--id", "created_at,nope", "buyer__name"])
def test_unknown_ordering_is_400_invalid_ordering(trading_world, url, bad):
    r = trading_world.buyer_client.get(url, {"ordering": bad})
    assert r.status_code == 400, (url, bad, r.content)
    body = r.json()
    assert body["code"] == "invalid_ordering" and "ordering" in body["fields"], body
    assert "allowed" in body["message"], body["message"]


@pytest.mark.django_db
def test_ordering_message_in_chinese(trading_world, client_for, make_member):
    zh = client_for(make_member(trading_world.buyer, "viewer"), language="zh-hans")
    body = zh.get("/api/v1/orders", {"ordering": "secret"}).json()
    assert body["code"] == "invalid_ordering" and "排序" in body["message"] and "secret" in body["message"], body


@pytest.mark.django_db
def test_the_moved_lists_answer_the_old_style_for_one_release(trading_world):
    w = trading_world
    ids = [_place(w.buyer_client, w.market, p) for p in ("91.00", "92.00", "93.00")]
    old = w.buyer_client.get("/api/v1/orders", {"page": 1, "page_size": 2}).json()
    assert old["count"] == 3 and [r["id"] for r in old["results"]] == sorted(ids, reverse=True)[:2]
    assert "page=2" in old["next"]
    new = w.buyer_client.get("/api/v1/orders", {"page_size": 2}).json()
    assert "count" not in new and "cursor=" in new["next"]
    # a directory moved to page numbers: a count by default, the old cursor on request
    operator = w.operator_client
    page = operator.get("/api/v1/oversight/markets", {"page_size": 1}).json()
    assert page["count"] >= 1 and "cursor" not in (page["next"] or "")
    first = operator.get("/api/v1/oversight/markets", {"page_size": 1, "cursor": ""}).json()
    assert "count" in first  # an empty cursor is no cursor
    rows = operator.get("/api/v1/oversight/markets", {"page_size": 500}).json()["results"]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    # a cursor as the old style wrote it (DRF: base64 of "p=<position>"): the old order, newest first, no count
    cursor = base64.b64encode(f"p={rows[-1]['id'] + 1}".encode()).decode()
    legacy = operator.get("/api/v1/oversight/markets", {"page_size": 500, "cursor": cursor}).json()
    assert "count" not in legacy and [r["id"] for r in legacy["results"]] == [r["id"] for r in reversed(rows)]


def test_local_times_rewrites_times_and_nothing_else():
    from datetime import UTC, datetime

    from core.api import local_time, local_times

    at = datetime(2026, 12, 6, 4, 37, 18, 188013, tzinfo=UTC)
    assert local_time(at) == "2026-12-06T12:37:18.188013+08:00" and local_time(None) is None
    doc = {"at": at, "stored": "2026-12-06T04:37:18.111Z", "utc": "2026-12-06T04:37:18+00:00",
           "nested": [{"deadline": "2026-12-09T04:37:18.188013Z"}], "day": "2026-12-06", "code": "W-BASIN-001",
           "text": "at 2026-12-06T04:37:18Z the trade", "n": 5, "none": None}
    out = local_times(doc)
    assert out == {"at": "2026-12-06T12:37:18.188013+08:00", "stored": "2026-12-06T12:37:18.111000+08:00",
                   "utc": "2026-12-06T12:37:18+08:00", "nested": [{"deadline": "2026-12-09T12:37:18.188013+08:00"}],
                   "day": "2026-12-06", "code": "W-BASIN-001", "text": "at 2026-12-06T04:37:18Z the trade", "n": 5,
                   "none": None}
    assert doc["stored"].endswith("Z")  # a copy: the input is not changed
