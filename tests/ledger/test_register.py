"""The whole register: the operator and regulators read every organization's holdings (paged) and the
conservation view per asset (issued − retired − expired = held), which balances after trades,
settlements and a retirement; a participant is refused both."""
import pytest

from accounts.actor import Actor
from ledger.services import rights_retire
from trading.settlement.services import trade_settle

from tests.support.rules import YUAN

T = 1000
HOLDINGS, CONSERVATION = "/api/v1/register/holdings", "/api/v1/register/conservation"


@pytest.mark.django_db
def test_register_balances_after_trades_and_is_closed_to_participants(world, client_for, make_member):
    m = world.market(subtype="SO2", region="350121")
    a, b, c = world.enterprise("350121"), world.enterprise("350102"), world.enterprise("350203")
    world.issue(m, a, 10 * T)
    for buyer in (b, c):
        trade_settle(trade_id=world.cross(a, buyer, m, 28_500 * YUAN, 2 * T).trades[0].id)
    world.place(c, m, "buy", 28_000 * YUAN, T)  # resting: cash held, still c's
    rights_retire(actor=Actor.system(), asset=m.asset, organization=b, amount=T, reason="履约",
                  compliance_period="2026", idempotency_key="ret-1")

    for reader in (client_for(world.operator_viewer), client_for(world.province_approver)):
        r = reader.get(CONSERVATION, {"asset": m.asset.code})
        assert r.status_code == 200, r.json()
        [row] = r.json()["assets"]
        assert row == {"asset": m.asset.code, "kind": "right", "unit": m.asset.unit, "issued": "10.000",
                       "retired": "1.000", "expired": "0.000", "held": "9.000", "holders": 3, "balanced": True}
        everything = reader.get(CONSERVATION).json()
        assert everything["balanced"] is True and any(x["asset"] == "CNY" for x in everything["assets"])

        r = reader.get(HOLDINGS, {"asset": m.asset.code, "page_size": 2})
        assert r.status_code == 200
        body = r.json()
        assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
        rest = reader.get(body["next"]).json()["results"]
        totals = {row["organization"]: row["total"] for row in body["results"] + rest}
        assert totals == {a.id: "6.000", b.id: "1.000", c.id: "2.000"}

    participant = client_for(b.trader)
    assert participant.get(CONSERVATION).status_code == 403
    assert participant.get(HOLDINGS).status_code == 403
    assert client_for(make_member(b, "admin")).get(HOLDINGS).status_code == 403
