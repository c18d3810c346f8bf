"""Market administration: creating a market validates its steps; the directory shows every member the
market's parameters and session windows; the operator halts and resumes."""
from __future__ import annotations

from datetime import time

import pytest

from accounts.actor import Actor
from core.errors import ApiError
from ledger.services import asset_create
from marketplace.services import market_create


@pytest.fixture
def asset(make_org):
    issuer = make_org("county_government", "350121")
    return asset_create(actor=Actor.system(), code="emission-COD-admin", right_type_id="emission", subtype="COD",
                        unit="t", scale=3, vintage=2026, origin_region_id="350121", issuer=issuer)


@pytest.mark.django_db
@pytest.mark.parametrize("kwargs,field", [
    (dict(lot_size=1500), "lot_size"),
    (dict(lot_size=0), "lot_size"),
    (dict(tick_size=0), "tick_size"),
    (dict(min_quantity=-1000), "min_quantity"),
    (dict(price_band_bps=10_000), "price_band_bps"),
    (dict(fee_bps=10_001), "fee_bps"),
    (dict(fee_min=-1), "fee_bps"),
    (dict(always_open=False, windows=[(time(11, 30), time(9, 30))]), "windows"),
])
def test_market_create_validates(asset, kwargs, field):
    args = dict(actor=Actor.system(), asset=asset, code="m-admin", lot_size=1000) | kwargs
    with pytest.raises(ApiError) as e:
        market_create(**args)
    assert e.value.code == "validation_error" and field in e.value.fields


@pytest.mark.django_db
def test_directory_and_operator_halt(asset, make_org, make_member, client_for, fast_passwords):
    market = market_create(actor=Actor.system(), asset=asset, code="m-admin", lot_size=1000, tick_size=5,
                           min_quantity=2000, fee_bps=10, fee_min=100, always_open=False,
                           windows=[(time(9, 30), time(11, 30)), (time(13, 0), time(15, 0), "12345")])
    viewer = client_for(make_member(make_org(), "viewer"))
    r = viewer.get(f"/api/v1/markets/{market.id}")
    assert r.status_code == 200
    body = r.json()
    assert {k: body[k] for k in ("code", "status", "tick_size", "lot_size", "min_quantity", "price_band_bps",
                                 "reference_price", "fee_bps", "fee_min", "always_open", "unit")} == {
        "code": "m-admin", "status": "open", "tick_size": "0.05", "lot_size": "1.000", "min_quantity": "2.000",
        "price_band_bps": 1000, "reference_price": None, "fee_bps": 10, "fee_min": "1.00", "always_open": False,
        "unit": "t"}
    assert body["session_windows"] == [{"start": "09:30:00", "end": "11:30:00", "weekdays": "12345"},
                                       {"start": "13:00:00", "end": "15:00:00", "weekdays": "12345"}]
    assert [m["code"] for m in viewer.get("/api/v1/markets", {"right_type": "emission"}).json()["results"]] == [
        "m-admin"]
    assert viewer.post(f"/api/v1/markets/{market.id}/halt", {"reason": "x"}, format="json").status_code == 403
    approver = client_for(make_member(make_org("exchange_operator", "350000"), "approver"))
    r = approver.post(f"/api/v1/markets/{market.id}/halt", {"reason": "fat finger"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "halted"
    r = approver.post(f"/api/v1/markets/{market.id}/resume", {"reason": "ok"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "open"
    r = approver.post(f"/api/v1/markets/{market.id}/halt", {}, format="json")
    assert r.status_code == 400 and "reason" in r.json()["fields"]
