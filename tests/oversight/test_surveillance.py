"""Each surveillance alert fires on its constructed scenario, with its evidence, and not on a clean one;
running again never duplicates an alert; alerts are append-only and listed by jurisdiction."""
import pytest
from django.db import DatabaseError, transaction

from accounts.models import Membership
from oversight.models import Alert
from oversight.surveillance import run_surveillance
from trading.orderbook.services import order_cancel

from tests.support.rules import YUAN, actor_of

T = 1000
PRICE = 28_500 * YUAN


def em_market(world, region="350121"):
    m = world.market(subtype="SO2", region=region)
    return m


# --- linked parties ------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_self_dealing_through_a_shared_user(world):
    m = em_market(world)
    a, b = world.enterprise("350121"), world.enterprise("350102")
    world.issue(m, a, 10 * T)
    Membership.objects.create(user=a.trader.user, organization=b, role="viewer")  # one person in both
    trade = world.cross(a, b, m, PRICE, T).trades[0]
    counts = run_surveillance(detectors=("linked",))
    assert counts == {"self_dealing": 1}
    alert = Alert.objects.get(kind="self_dealing")
    assert set(alert.organization_ids) == {a.id, b.id} and alert.trade_ids == [trade.id]
    assert alert.evidence["link"]["shared_users"] == [{"id": a.trader.user_id, "username": a.trader.user.username}]
    assert run_surveillance(detectors=("linked",)) == {}  # no duplicate


@pytest.mark.django_db
def test_wash_trade_round_trip_between_parent_and_subsidiary(world):
    m = em_market(world)
    parent = world.enterprise("350121")
    child = world.enterprise("350102", parent=parent)
    world.issue(m, parent, 10 * T)
    world.cross(parent, child, m, PRICE, 2 * T)
    from trading.models import Trade
    from trading.settlement.services import trade_settle

    for t in Trade.objects.filter(seller=parent):
        trade_settle(trade_id=t.id)
    world.cross(child, parent, m, PRICE, 2 * T)
    assert run_surveillance(detectors=("linked",)) == {"wash_trade": 1}
    alert = Alert.objects.get(kind="wash_trade")
    assert alert.evidence["link"]["parent"]["ancestor"] == parent.id and alert.evidence["trade_count"] == 2
    assert alert.severity == "high"


@pytest.mark.django_db
def test_siblings_under_a_common_parent_are_linked(world):
    m = em_market(world)
    group = world.make_org("enterprise", "350100")
    a, b = world.enterprise("350121", parent=group), world.enterprise("350102", parent=group)
    world.issue(m, a, 10 * T)
    world.cross(a, b, m, PRICE, T)
    assert run_surveillance(detectors=("linked",)) == {"self_dealing": 1}
    assert Alert.objects.get().evidence["link"]["parent"]["common_ancestor"] == group.id


@pytest.mark.django_db
def test_unrelated_parties_raise_nothing(world):
    m = em_market(world)
    a, b = world.enterprise("350121"), world.enterprise("350102")
    world.issue(m, a, 10 * T)
    world.cross(a, b, m, PRICE, T)
    world.cross(a, b, m, PRICE, T)
    assert run_surveillance(detectors=("linked",)) == {}


# --- off-VWAP prints ------------------------------------------------------------------------------------------

def prints(world, prices):
    m = em_market(world)
    seller = world.enterprise("350121")
    world.issue(m, seller, 100 * T)
    buyers = [world.enterprise("350102") for _ in range(2)]
    return [world.cross(seller, buyers[i % 2], m, p, T).trades[0] for i, p in enumerate(prices)]


@pytest.mark.django_db
def test_print_far_from_trailing_vwap(world):
    trades = prints(world, [PRICE, PRICE, PRICE, PRICE * 13 // 10])  # +30%
    assert run_surveillance(detectors=("off_vwap",)) == {"off_vwap": 1}
    alert = Alert.objects.get(kind="off_vwap")
    assert alert.trade_ids == [trades[-1].id]
    assert alert.evidence["trailing_trades"] == 3 and alert.evidence["deviation_pct"] == "30.00"
    assert alert.evidence["trailing_vwap_fen"] == f"{PRICE}.00"


@pytest.mark.django_db
def test_prints_near_the_vwap_raise_nothing(world):
    prints(world, [PRICE, PRICE, PRICE, PRICE * 11 // 10, PRICE * 9 // 10])  # ±10%
    assert run_surveillance(detectors=("off_vwap",)) == {}


@pytest.mark.django_db
def test_too_few_trailing_trades_raise_nothing(world):
    prints(world, [PRICE, PRICE * 2])
    assert run_surveillance(detectors=("off_vwap",)) == {}


# --- concentration ------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_participant_above_concentration_threshold(world):
    m = em_market(world)
    county = m.issuer
    world.issue(m, county, 100 * T)
    big, small = world.enterprise("350102"), world.enterprise("350203")
    from trading.settlement.services import trade_settle

    for buyer, qty in ((big, 40 * T), (small, 5 * T)):
        trade_settle(trade_id=world.cross(county, buyer, m, PRICE, qty).trades[0].id)
    assert run_surveillance(detectors=("concentration",)) == {"concentration": 1}
    alert = Alert.objects.get(kind="concentration")
    assert alert.organization_ids == [big.id] and alert.evidence["share_pct"] == "40.00"
    assert alert.evidence["holding"] == 40 * T and alert.evidence["total"] == 100 * T
    assert run_surveillance(detectors=("concentration",)) == {}  # once a day


@pytest.mark.django_db
def test_spread_holdings_raise_nothing(world):
    m = em_market(world)
    county = m.issuer
    world.issue(m, county, 100 * T)  # a government issuer holding its allocation is not flagged
    from trading.settlement.services import trade_settle

    for _ in range(3):
        trade_settle(trade_id=world.cross(county, world.enterprise("350102"), m, PRICE, 10 * T).trades[0].id)
    assert run_surveillance(detectors=("concentration",)) == {}


# --- cancel-to-trade ratio ----------------------------------------------------------------------------------

def churn(world, org, market, n):
    for _ in range(n):
        order = world.place(org, market, "buy", 1_000 * YUAN, T).order
        order_cancel(actor=actor_of(org.trader), organization=org, order_id=order.id)


@pytest.mark.django_db
def test_cancel_to_trade_ratio_spike(world):
    m = em_market(world)
    seller = world.enterprise("350121")
    world.issue(m, seller, 10 * T)
    spoofer = world.enterprise("350102")
    world.cross(seller, spoofer, m, PRICE, T)
    churn(world, spoofer, m, 25)
    assert run_surveillance(detectors=("cancel_ratio",)) == {"cancel_ratio": 1}
    alert = Alert.objects.get(kind="cancel_ratio")
    assert alert.organization_ids == [spoofer.id]
    assert alert.evidence["cancels"] == 25 and alert.evidence["trades"] == 1 and alert.evidence["ratio"] == "25.00"


@pytest.mark.django_db
def test_ordinary_cancelling_raises_nothing(world):
    m = em_market(world)
    seller = world.enterprise("350121")
    world.issue(m, seller, 10 * T)
    trader = world.enterprise("350102")
    world.cross(seller, trader, m, PRICE, T)
    churn(world, trader, m, 5)
    assert run_surveillance(detectors=("cancel_ratio",)) == {}


# --- storage and access ------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_alerts_are_append_only_and_scoped(world, client_for):
    m = em_market(world)
    a, b = world.enterprise("350121"), world.enterprise("350102")
    world.issue(m, a, 10 * T)
    Membership.objects.create(user=a.trader.user, organization=b, role="viewer")
    world.cross(a, b, m, PRICE, T)
    r = client_for(world.fuzhou_approver).post("/api/v1/oversight/surveillance/run", {}, format="json")
    # a holds 90% of the instrument too: a concentration alert as well
    assert r.status_code == 200 and r.json()["new_alerts"] == {"self_dealing": 1, "concentration": 1}
    alert = Alert.objects.get(kind="self_dealing")
    with pytest.raises(DatabaseError), transaction.atomic():
        Alert.objects.filter(pk=alert.pk).update(evidence={})
    with pytest.raises(DatabaseError), transaction.atomic():
        Alert.objects.filter(pk=alert.pk).delete()
    fz = client_for(world.fuzhou_approver).get("/api/v1/oversight/alerts").json()["results"]
    assert {x["kind"] for x in fz} == {"self_dealing", "concentration"}
    assert client_for(world.xiamen_approver).get("/api/v1/oversight/alerts").json()["results"] == []
    assert client_for(world.xiamen_approver).get(f"/api/v1/oversight/alerts/{alert.id}").status_code == 404
    r = client_for(world.province_approver).get("/api/v1/oversight/alerts", {"kind": "self_dealing",
                                                                             "organization": a.id})
    assert [x["id"] for x in r.json()["results"]] == [alert.id]
