"""Report figures equal hand-computed fixtures: volume/value/count/VWAP by right type × region × period,
the cross-region flow matrix (before and after the summary roll-up, and for trades inserted already
settled), farmland earmarked proceeds per county, concentration, pending approvals."""
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Membership
from oversight import reports
from oversight.approvals import approvals_sync
from oversight.models import FlowDelta, FlowSummary, FlowTotal
from oversight.scope import Scope
from trading.models import Trade
from trading.settlement.services import trade_fail, trade_settle

from tests.support.rules import YUAN, install

T = 1000


@pytest.fixture
def settled(world):
    em = world.market(subtype="SO2", region="350121")
    water = world.market(right_type="water", subtype="surface", unit="m3", scale=0, region="350121",
                         basin="minjiang")
    s1, s2 = world.enterprise("350121"), world.enterprise("350122")
    b1, b2 = world.enterprise("350102"), world.enterprise("350203")
    world.issue(em, s1, 100 * T)
    world.issue(water, s2, 100_000)
    trades = [
        world.cross(s1, b1, em, 28_500 * YUAN, 2 * T).trades[0],  # ¥57,000
        world.cross(s1, b2, em, 30_000 * YUAN, 1 * T).trades[0],  # ¥30,000
        world.cross(s1, b1, em, 29_000 * YUAN, 3 * T).trades[0],  # ¥87,000
        world.cross(s2, b1, water, 93, 10_000).trades[0],  # ¥9,300
    ]
    for t in trades:
        assert trade_settle(trade_id=t.id) == "settled"
    # neither an unsettled nor a failed trade counts
    world.cross(s1, b1, em, 99_000 * YUAN, T)
    failed = world.cross(s1, b2, em, 99_000 * YUAN, T).trades[0]
    trade_fail(trade_id=failed.id, reason="test")
    return {"em": em, "water": water, "s1": s1, "s2": s2, "b1": b1, "b2": b2}


def operator_scope(world):
    return Scope(world.operator_viewer)


@pytest.mark.django_db
def test_volume_by_origin_and_destination(world, settled):
    month = timezone.localdate().replace(day=1)
    rows = reports.volume_report(operator_scope(world), period="month", by="origin")
    assert rows == [
        {"period": month, "right_type": "emission", "region": "350121", "trades": 3, "volume": "6",
         "value": "174000.00", "vwap": "29000.00"},
        {"period": month, "right_type": "water", "region": "350121", "trades": 1, "volume": "10000",
         "value": "9300.00", "vwap": "0.93"},
    ]
    rows = reports.volume_report(operator_scope(world), period="day", by="destination", right_type="emission")
    assert [(r["region"], r["trades"], r["volume"], r["value"], r["vwap"]) for r in rows] == [
        ("350102", 2, "5", "144000.00", "28800.00"), ("350203", 1, "1", "30000.00", "30000.00")]
    assert rows[0]["period"] == timezone.localdate()
    rows = reports.volume_report(operator_scope(world), period="year", by="origin", level="city")
    assert [(r["right_type"], r["region"], r["trades"]) for r in rows] == [("emission", "350100", 3),
                                                                          ("water", "350100", 1)]
    tomorrow = timezone.localdate() + timedelta(days=1)
    assert reports.volume_report(operator_scope(world), since=tomorrow) == []
    assert reports.volume_report(operator_scope(world), region="350200", by="destination")[0]["trades"] == 1


@pytest.mark.django_db
def test_flow_matrix_and_rollup(world, settled):
    expected = [
        {"right_type": "emission", "origin": "350121", "destination": "350102", "trades": 2, "quantity": "5",
         "value": "144000.00"},
        {"right_type": "emission", "origin": "350121", "destination": "350203", "trades": 1, "quantity": "1",
         "value": "30000.00"},
        {"right_type": "water", "origin": "350121", "destination": "350102", "trades": 1, "quantity": "10000",
         "value": "9300.00"},
    ]
    assert reports.flow_matrix(operator_scope(world)) == expected
    assert FlowDelta.objects.count() == 4 and FlowSummary.objects.count() == 0
    assert reports.flow_rollup() == 4
    assert FlowDelta.objects.count() == 0 and FlowSummary.objects.count() == 3 and FlowTotal.objects.count() == 3
    assert reports.flow_matrix(operator_scope(world)) == expected
    # more settlements after the roll-up are added on top
    t = world.cross(settled["s1"], settled["b2"], settled["em"], 31_000 * YUAN, 2 * T).trades[0]
    trade_settle(trade_id=t.id)
    rows = reports.flow_matrix(operator_scope(world), level="city", right_type="emission")
    assert rows == [
        {"right_type": "emission", "origin": "350100", "destination": "350100", "trades": 2, "quantity": "5",
         "value": "144000.00"},
        {"right_type": "emission", "origin": "350100", "destination": "350200", "trades": 2, "quantity": "3",
         "value": "92000.00"},
    ]
    reports.flow_rollup()
    assert reports.flow_matrix(operator_scope(world), level="city", right_type="emission") == rows
    # Xiamen's regulator sees the flows into or out of Xiamen only
    xiamen = Scope(world.xiamen_approver)
    assert [(r["origin"], r["destination"]) for r in reports.flow_matrix(xiamen)] == [("350121", "350203")]


@pytest.mark.django_db
def test_flow_summary_counts_trades_inserted_already_settled(world, settled):
    """Bulk loads (benchmarks, migrations of history) insert trades as settled: the insert trigger counts
    them, one delta row per group per statement."""
    em, s1, b2 = settled["em"], settled["s1"], settled["b2"]
    now = timezone.now()
    Trade.objects.bulk_create([
        Trade(market=em, asset_id=em.asset_id, buyer=b2, seller=s1, price=30_000 * YUAN, quantity=T,
              value=30_000 * YUAN, buyer_hold=30_000 * YUAN, seller_hold=T, status="settled",
              ledger_transaction_id=1, settled_at=now)
        for _ in range(50)])
    row = next(r for r in reports.flow_matrix(operator_scope(world)) if r["destination"] == "350203")
    assert row["trades"] == 51 and row["quantity"] == "51" and row["value"] == "1530000.00"
    assert FlowDelta.objects.filter(dest_region="350203").count() == 2
    # a bulk statement goes straight into the summary and the totals (no deltas to scan later)
    yesterday = now - timedelta(days=1)
    Trade.objects.bulk_create([
        Trade(market=em, asset_id=em.asset_id, buyer=b2, seller=s1, price=20_000 * YUAN, quantity=2 * T,
              value=40_000 * YUAN, buyer_hold=40_000 * YUAN, seller_hold=2 * T, status="settled",
              ledger_transaction_id=1, settled_at=yesterday if i % 2 else now)
        for i in range(1200)], batch_size=5000)
    assert FlowDelta.objects.filter(dest_region="350203").count() == 2
    assert FlowTotal.objects.get(dest_region="350203").trades == 1200
    assert FlowSummary.objects.filter(dest_region="350203").count() == 2
    row = next(r for r in reports.flow_matrix(operator_scope(world)) if r["destination"] == "350203")
    assert row["trades"] == 1251 and row["quantity"] == "2451" and row["value"] == "49530000.00"
    today = next(r for r in reports.flow_matrix(operator_scope(world), since=timezone.localdate())
                 if r["destination"] == "350203")
    assert today["trades"] == 651
    reports.flow_rollup()
    week = timezone.localdate() - timedelta(days=9)
    assert reports.flow_matrix(operator_scope(world)) == reports.flow_matrix(operator_scope(world), since=week)


@pytest.mark.django_db
def test_farmland_earmarked_proceeds_per_county(world):
    farm = world.market(right_type="farmland", subtype="quantity", unit="mu", scale=2, region="350121")
    county = farm.issuer
    world.issue(farm, county, 10_000)  # 100 mu
    from accounts.actor import Actor
    from ledger.services import cash_deposit

    buyer = world.make_org("county_government", "350203")
    cash_deposit(actor=Actor.system(), organization=buyer, amount=10_000_000 * YUAN, bank_reference="f",
                 idempotency_key="f")
    for qty, price in ((100, 300_000 * YUAN), (200, 320_000 * YUAN)):  # 1 mu and 2 mu
        t = world.cross(county, buyer, farm, price, qty).trades[0]
        assert trade_settle(trade_id=t.id) == "settled"
    rows = reports.farmland_proceeds(operator_scope(world))
    (row,) = [r for r in rows if r["region"] == "350121"]
    assert row["balance"] == "940000.00" and row["received"] == "940000.00" and row["receipts"] == 2
    assert row["name_zh"] == "闽侯县"
    assert [r["region"] for r in reports.farmland_proceeds(Scope(world.xiamen_approver))
            if r["region"] == "350121"] == []


@pytest.mark.django_db
def test_concentration(world, settled):
    (row,) = reports.concentration(operator_scope(world), asset_id=settled["em"].asset_id)
    # 100 t issued to s1; s1 sold 6 t (5 to b1, 1 to b2); two unsettled/failed trades hold nothing more
    assert row["total"] == "100.000" and row["holders"] == 3
    assert [(x["organization"], x["holding"], x["share_pct"]) for x in row["top"]] == [
        (settled["s1"].id, "94.000", "94.00"), (settled["b1"].id, "5.000", "5.00"),
        (settled["b2"].id, "1.000", "1.00")]
    assert row["hhi"] == 94 ** 2 + 5 ** 2 + 1 ** 2
    assert len(reports.concentration(operator_scope(world), asset_id=settled["em"].asset_id, top=1)[0]["top"]) == 1


@pytest.mark.django_db
def test_pending_approvals_and_age(world):
    install(("scope", {"city": "approve"}))
    m = world.market(subtype="NOx", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 10 * T)
    trade = world.cross(seller, world.enterprise("350902"), m, 3_425_000, T).trades[0]
    approvals_sync()
    later = timezone.now() + timedelta(hours=3)
    out = reports.pending_approvals(Scope(world.province_approver), now=later)
    assert out["count"] == 1 and out["requests"][0]["trade"] == trade.id
    assert 3 * 3600 - 60 <= out["oldest_age_seconds"] <= 3 * 3600 + 60
    assert out["requests"][0]["approvals"] == 0 and out["requests"][0]["overdue"] is False
    assert reports.pending_approvals(Scope(world.xiamen_approver))["count"] == 0


@pytest.mark.django_db
def test_report_endpoints(world, settled, client_for):
    c = client_for(world.fuzhou_approver)
    r = c.get("/api/v1/oversight/reports/volume", {"period": "month", "right_type": "emission"})
    assert r.status_code == 200 and r.json()["rows"][0]["vwap"] == "29000.00"
    r = c.get("/api/v1/oversight/reports/flows", {"level": "city"})
    assert r.status_code == 200 and len(r.json()["rows"]) == 3
    assert c.get("/api/v1/oversight/reports/volume", {"period": "fortnight"}).status_code == 400
    assert c.get("/api/v1/oversight/reports/flows", {"since": "yesterday"}).status_code == 400
    assert c.get("/api/v1/oversight/reports/farmland-proceeds").status_code == 200
    r = c.get("/api/v1/oversight/reports/concentration", {"asset": settled["em"].asset_id})
    assert r.status_code == 200 and r.json()["rows"][0]["hhi"] == 8862
    assert c.get("/api/v1/oversight/reports/pending-approvals").json()["count"] == 0
    assert Membership.objects.filter(pk=world.fuzhou_approver.pk).exists()
