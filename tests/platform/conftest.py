"""A small trading world for the platform tests: one order-book market (SO2, t, scale 3), a funded buyer,
a seller with rights and an open fixed-price listing, and the operator (who confirms deposits)."""
from types import SimpleNamespace

import pytest

EMISSION_PROVENANCE = {"reduction_measure": "SCR 脱硝改造", "discharge_permit_no": "91350121MA2Y0000XA001P"}


@pytest.fixture
def trading_world(make_market, make_org, make_member, client_for, fund, operator_org, fast_passwords):
    w = SimpleNamespace()
    w.market = make_market(price_band_bps=None)
    w.buyer, w.seller = make_org("enterprise", "350102"), make_org("enterprise", "350121")
    fund(w.buyer, cny=1_000_000_00)
    fund(w.seller, market=w.market, quantity=100_000)
    w.buyer_client = client_for(make_member(w.buyer, "trader"))
    w.seller_client = client_for(make_member(w.seller, "trader"))
    w.operator_client = client_for(make_member(operator_org, "admin"))
    r = w.seller_client.post("/api/v1/listings", {
        "kind": "fixed_price", "asset": w.market.asset_id, "quantity": "10", "price": "100.00", "divisible": True,
        "provenance": EMISSION_PROVENANCE}, format="json")
    assert r.status_code == 201, r.json()
    w.listing = r.json()["id"]
    return w
