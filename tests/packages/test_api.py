"""The package API: decimal strings at the edge, the outcome in the 201, own packages only, trader roles,
idempotent replays, registered error codes in both languages, the audit event."""
from __future__ import annotations

import pytest

from accounts.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def buyer_client(pworld, make_member, client_for):
    return client_for(make_member(pworld.buyer, "trader"))


def test_place_and_list(pworld, buyer_client, make_member, client_for):
    so2, nox, _ = pworld.markets
    body = {"legs": [{"market": so2.id, "quantity": "20", "limit_price": "102.00"},
                     {"market": nox.id, "quantity": "15", "limit_price": "105.00"},
                     {"listing": pworld.listing.id, "quantity": "2.5"}],
            "total_limit": "5000.00", "client_reference": "project-7"}
    r = buyer_client.post("/api/v1/packages", body, format="json", HTTP_IDEMPOTENCY_KEY="p-1")
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["status"] == "filled" and data["ledger_transaction"]
    assert [leg["filled_quantity"] for leg in data["legs"]] == ["20.000", "15.000", "2.500"]
    assert data["legs"][2]["value"] == "245.00"
    replay = buyer_client.post("/api/v1/packages", body, format="json", HTTP_IDEMPOTENCY_KEY="p-1")
    assert replay.status_code == 200 and replay.json()["id"] == data["id"]
    listed = buyer_client.get("/api/v1/packages").json()
    assert [p["id"] for p in listed["results"]] == [data["id"]]
    assert len(buyer_client.get(f"/api/v1/packages?id={data['id']}").json()["results"]) == 1
    other = client_for(make_member(pworld.sellers[0], "trader"))
    assert other.get("/api/v1/packages").json()["results"] == []
    assert AuditEvent.objects.filter(action="package.filled", object_id=str(data["id"])).exists()


def test_unfilled_is_a_201_with_the_reason(pworld, buyer_client):
    so2 = pworld.markets[0]
    r = buyer_client.post("/api/v1/packages", {"legs": [{"market": so2.id, "quantity": "100",
                                                         "limit_price": "106.00"}]}, format="json")
    assert r.status_code == 201
    assert (r.json()["status"], r.json()["reason"], r.json()["failed_leg"]) == ("unfilled",
                                                                                "package_leg_not_fillable", 0)
    assert r.json()["paid"] == "0.00"


def test_errors(pworld, buyer_client, make_member, client_for):
    so2 = pworld.markets[0]
    r = buyer_client.post("/api/v1/packages", {"legs": [{"market": so2.id, "listing": pworld.listing.id,
                                                         "quantity": "1"}]}, format="json")
    assert (r.status_code, r.json()["code"]) == (400, "invalid_package")
    r = buyer_client.post("/api/v1/packages", {"legs": [{"market": so2.id, "quantity": "1"}]}, format="json",
                          HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert (r.status_code, r.json()["code"]) == (400, "package_unbounded")
    assert "限价" in r.json()["message"]
    r = buyer_client.post("/api/v1/packages", {"legs": [{"market": so2.id, "quantity": 1, "limit_price": "1"}]},
                          format="json")
    assert (r.status_code, r.json()["code"]) == (400, "invalid_number")
    r = buyer_client.post("/api/v1/packages", {"legs": [{"market": so2.id, "quantity": "0.0001",
                                                         "limit_price": "1"}]}, format="json")
    assert r.status_code == 400
    viewer = client_for(make_member(pworld.buyer, "viewer"))
    r = viewer.post("/api/v1/packages", {"legs": []}, format="json")
    assert (r.status_code, r.json()["code"]) == (403, "not_a_trader")
