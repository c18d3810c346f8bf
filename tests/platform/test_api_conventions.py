"""One convention each (issue 16 item 5, README "API conventions"): date ranges are since/until (from/to kept
one release, deprecated in the schema); one paging rule by kind of list; one listing's bids advertise no
listing filters; one name per thing (old names deprecated)."""
import pytest
from drf_spectacular.generators import SchemaGenerator

# the paging rule: append-only streams and the regulator's large lists page by cursor; directory and
# own-activity lists by page number; public market-data windows take `limit` (newest N); bounded lists
# (one organization's holdings and webhooks, one listing's bids, the rulebooks) are not paged
CURSOR = {"/api/v1/checkpoints", "/api/v1/statements", "/api/v1/oversight/alerts", "/api/v1/oversight/approvals",
          "/api/v1/oversight/audit", "/api/v1/oversight/markets", "/api/v1/oversight/organizations",
          "/api/v1/oversight/trades", "/api/v1/movement-requests", "/api/v1/webhook-deliveries"}
LIMIT = {"/api/v1/feed/trades", "/api/v1/markets/{id}/candles", "/api/v1/markets/{id}/trades"}


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


def test_one_paging_rule(schema):
    for path, ops in schema["paths"].items():
        if "get" not in ops:
            continue
        names = set(_params(schema, path))
        style = {"page" in names, "cursor" in names, "limit" in names}
        assert sum(style) <= 1, path
        if path in CURSOR:
            assert "cursor" in names and "page" not in names, path
        elif path in LIMIT:
            assert "limit" in names and "page" not in names and "cursor" not in names, path
        else:
            assert "cursor" not in names and "limit" not in names, path


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
