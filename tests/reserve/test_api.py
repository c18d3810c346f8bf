"""The reserve API: who may do what, what regulators see (jurisdiction), the CSV export, errors zh/en."""
from __future__ import annotations

import pytest

from reserve import services

from .conftest import UNIT, YUAN, actor_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def activity(rworld):
    w = rworld
    notice = services.notice_open(actor=actor_of(w.city_admin), body=w.city, asset_id=w.asset.id, price=110 * YUAN,
                                  quantity=20 * UNIT)
    services.tender(actor=actor_of(w.city_admin), holder=w.holders[0], notice_id=notice.id, quantity=5 * UNIT)
    return notice


def test_flow_over_the_api(rworld, make_member, client_for):
    w = rworld
    city = client_for(w.city_admin)
    r = city.post("/api/v1/reserve/buybacks", {"asset": w.asset.id, "price": "120.00", "quantity": "10"},
                  format="json", HTTP_IDEMPOTENCY_KEY="n1")
    assert r.status_code == 201, r.content
    notice = r.json()["id"]
    assert (r.json()["held"], r.json()["remaining"]) == ("1200.00", "10.000")
    holder = client_for(make_member(w.holders[1], "trader"))
    r = holder.post("/api/v1/reserve/tenders", {"notice": notice, "quantity": "2.5"}, format="json")
    assert (r.status_code, r.json()["value"]) == (201, "300.00")
    r = holder.post("/api/v1/reserve/tenders", {"notice": notice, "quantity": "20"}, format="json",
                    HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert (r.status_code, r.json()["code"]) == (409, "tender_exceeds_remaining")
    assert "剩余" in r.json()["message"]
    r = city.post("/api/v1/reserve/releases", {"asset": w.asset.id, "kind": "fixed_price", "quantity": "1",
                                               "price": "99.99", "provenance": {"reduction_measure": "x",
                                                                                "discharge_permit_no": "y"}},
                  format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert (r.status_code, r.json()["code"]) == (422, "reserve_below_floor")
    assert "100.00" in r.json()["message"]
    r = city.post("/api/v1/reserve/buybacks/close", {"notice": notice}, format="json")
    assert (r.status_code, r.json()["status"]) == (200, "closed")
    # a holder cannot open notices, an enterprise cannot read the overview
    assert holder.post("/api/v1/reserve/buybacks", {}, format="json").status_code == 403
    assert holder.get("/api/v1/reserve/overview").status_code == 403


def test_designation_four_eyes_over_the_api(rworld, client_for):
    w = rworld
    admin, approver = client_for(w.op_admin), client_for(w.op_approver)
    r = admin.post("/api/v1/reserve/designations", {"right_type": "energy", "organization": w.city.id,
                                                    "floor_price": "50.00"}, format="json")
    assert r.status_code == 201 and r.json()["status"] == "proposed"
    d = r.json()["id"]
    r = admin.post("/api/v1/reserve/designations/decide", {"designation": d, "decision": "confirm"}, format="json")
    assert (r.status_code, r.json()["code"]) == (403, "four_eyes_required")
    assert approver.post("/api/v1/reserve/designations", {}, format="json").status_code == 403
    r = approver.post("/api/v1/reserve/designations/decide", {"designation": d, "decision": "confirm"},
                      format="json")
    assert (r.status_code, r.json()["status"]) == (200, "active")


def test_regulators_see_their_jurisdiction(rworld, activity, make_member, client_for):
    w = rworld
    fz = client_for(make_member(w.fz_regulator, "approver"))
    xm = client_for(make_member(w.xm_regulator, "approver"))
    reserves = fz.get("/api/v1/reserve/overview").json()["reserves"]
    assert len(reserves) == 1
    mine = reserves[0]
    assert mine["designation"]["organization"] == w.city.id
    assert mine["holdings"] == [{"asset": w.asset.code, "unit": "t", "available": "5.000", "held": "0.000"}]
    assert [t["quantity"] for t in mine["tenders"]] == ["5.000"]
    assert xm.get("/api/v1/reserve/overview").json()["reserves"] == []
    csv = fz.get("/api/v1/reserve/export?lang=en")
    assert csv.status_code == 200
    text = b"".join(csv.streaming_content).decode("utf-8-sig")
    assert "buyback_tender" in text and w.asset.code in text
    empty = b"".join(xm.get("/api/v1/reserve/export?lang=en").streaming_content).decode("utf-8-sig")
    assert "buyback_tender" not in empty
    city_view = client_for(w.city_admin).get("/api/v1/reserve/overview").json()["reserves"]
    assert len(city_view) == 1
