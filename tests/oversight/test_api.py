"""The regulator API: jurisdiction scoping (a city regulator cannot see another city's trades, by list or
by id), the dossier with its inclusion proof, exports, freezing, halting, rulebook management, approvals
and the audit log."""
import csv
import hashlib
import io
import json
import time

import pytest

from accounts.models import AuditEvent
from core.errors import ApiError
from ledger.models import MerkleLeaf
from ledger.sealing import seal
from marketplace.models import RulebookVersion
from oversight.models import ApprovalRequest
from trading.settlement.services import trade_settle

from tests.support.rules import YUAN, install

T = 1000


@pytest.fixture
def trades(world):
    """A Fuzhou-only trade, a Xiamen-only trade and a Xiamen-origin trade bought into Fuzhou."""
    fz_market = world.market(subtype="SO2", region="350121")
    xm_market = world.market(subtype="COD", region="350203")
    fz_seller, fz_buyer = world.enterprise("350121"), world.enterprise("350102")
    xm_seller, xm_buyer = world.enterprise("350203"), world.enterprise("350206")
    world.issue(fz_market, fz_seller, 100 * T)
    world.issue(xm_market, xm_seller, 100 * T)
    fz = world.cross(fz_seller, fz_buyer, fz_market, 2_850_000, 2 * T).trades[0]
    xm = world.cross(xm_seller, xm_buyer, xm_market, 2_000_000, 3 * T).trades[0]
    cross = world.cross(xm_seller, fz_buyer, xm_market, 2_100_000, T).trades[0]
    return {"fz": fz, "xm": xm, "cross": cross, "fz_market": fz_market, "xm_market": xm_market,
            "fz_buyer": fz_buyer, "fz_seller": fz_seller, "xm_buyer": xm_buyer, "xm_seller": xm_seller}


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.django_db
def test_city_regulator_sees_only_its_city(world, trades, client_for):
    xm = client_for(world.xiamen_approver)
    fz = client_for(world.fuzhou_approver)
    province = client_for(world.province_approver)
    operator = client_for(world.operator_viewer)
    assert ids(xm.get("/api/v1/oversight/trades")) == {trades["xm"].id, trades["cross"].id}
    assert ids(fz.get("/api/v1/oversight/trades")) == {trades["fz"].id, trades["cross"].id}
    everything = {trades["fz"].id, trades["xm"].id, trades["cross"].id}
    assert ids(province.get("/api/v1/oversight/trades")) == everything
    assert ids(operator.get("/api/v1/oversight/trades")) == everything
    r = xm.get(f"/api/v1/oversight/trades/{trades['fz'].id}")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert xm.get(f"/api/v1/oversight/trades/{trades['xm'].id}").status_code == 200
    assert fz.get(f"/api/v1/oversight/trades/{trades['cross'].id}").status_code == 200
    # the export is scoped the same way
    rows = list(csv.DictReader(io.StringIO(b"".join(xm.get("/api/v1/oversight/exports/trades.csv")
                                                    .streaming_content).decode())))
    assert {int(r["id"]) for r in rows} == {trades["xm"].id, trades["cross"].id}


@pytest.mark.django_db
def test_only_regulators_and_the_operator(world, trades, client_for):
    enterprise = client_for(trades["fz_buyer"].trader)
    r = enterprise.get("/api/v1/oversight/trades")
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    assert enterprise.get(f"/api/v1/oversight/trades/{trades['fz'].id}").status_code == 403


@pytest.mark.django_db
def test_trade_search_filters(world, trades, client_for):
    c = client_for(world.province_approver)
    assert ids(c.get("/api/v1/oversight/trades", {"right_type": "emission", "origin": "350200"})) == {
        trades["xm"].id, trades["cross"].id}
    assert ids(c.get("/api/v1/oversight/trades", {"origin": "350200", "destination": "350100"})) == {
        trades["cross"].id}
    assert ids(c.get("/api/v1/oversight/trades", {"participant": trades["fz_buyer"].id})) == {
        trades["fz"].id, trades["cross"].id}
    assert ids(c.get("/api/v1/oversight/trades", {"subtype": "so2"})) == {trades["fz"].id}
    assert ids(c.get("/api/v1/oversight/trades", {"status": "settled"})) == set()
    assert ids(c.get("/api/v1/oversight/trades", {"right_type": "water"})) == set()
    t = trades["fz"]
    since = t.created_at.isoformat()
    assert trades["fz"].id in ids(c.get("/api/v1/oversight/trades", {"since": since}))
    assert ids(c.get("/api/v1/oversight/trades", {"until": since})) == set()
    r = c.get("/api/v1/oversight/trades", {"origin": "359999"})
    assert r.status_code == 400 and r.json()["code"] == "unknown_region"
    row = next(r for r in c.get("/api/v1/oversight/trades").json()["results"] if r["id"] == t.id)
    assert row["price"] == "28500.00" and row["quantity"] == "2.000" and row["origin_region"] == "350121"
    assert row["buyer_region"] == "350102" and row["right_type"] == "emission"


def _verify_inclusion(leaf_hex: str, index: int, size: int, path: list[str], root_hex: str) -> bool:
    """RFC 9162 §2.1.3.2 inclusion proof verification."""
    fn, sn = index, size - 1
    r = bytes.fromhex(leaf_hex)
    for p in (bytes.fromhex(x) for x in path):
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r.hex() == root_hex


@pytest.mark.django_db(transaction=True)
def test_dossier(world, trades, client_for):
    t = trades["fz"]
    assert trade_settle(trade_id=t.id) == "settled"
    t.refresh_from_db()
    deadline = time.monotonic() + 30
    while not MerkleLeaf.objects.filter(transaction_id=t.ledger_transaction_id).exists():
        # the horizon is cluster-wide: a concurrent test run's open transaction may hold it back a moment
        assert time.monotonic() < deadline, "the settlement was never sealed"
        seal()
        time.sleep(0.2)
    r = client_for(world.fuzhou_approver).get(f"/api/v1/oversight/trades/{t.id}")
    assert r.status_code == 200
    d = r.json()
    assert d["trade"]["status"] == "settled" and d["trade"]["buyer"]["id"] == trades["fz_buyer"].id
    assert d["orders"]["buy"]["side"] == "buy" and d["orders"]["sell"]["user"] == trades["fz_seller"].trader.user_id
    assert d["rule_checks"]["checked_version"] is None and d["rule_checks"]["current"] == []
    assert [e["status"] for e in d["events"]][-1] == "settled"
    settle = next(x for x in d["ledger"] if x["id"] == d["trade"]["ledger_transaction"])
    proof = settle["proof"]
    assert proof is not None
    assert _verify_inclusion(proof["leaf_hash"], proof["leaf_index"], proof["tree_size"], proof["path"],
                             proof["root_hash"])
    actions = {a["action"] for a in d["audit"]}
    assert {"order.place", "trade.settle"} <= actions
    assert d["approval"] is None


@pytest.mark.django_db
def test_exports_stream_csv_and_jsonl(world, trades, client_for):
    c = client_for(world.operator_viewer)
    r = c.get("/api/v1/oversight/exports/trades.jsonl", {"right_type": "emission"})
    assert r.status_code == 200 and r["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(x) for x in b"".join(r.streaming_content).decode().splitlines()]
    assert [x["id"] for x in lines] == sorted([trades["fz"].id, trades["xm"].id, trades["cross"].id])
    assert lines[0]["value"] == "57000.00"
    r = c.get("/api/v1/oversight/exports/trades.csv")
    assert r["Content-Type"].startswith("text/csv")
    assert r.status_code == 200
    r = c.get("/api/v1/oversight/exports/audit.jsonl", {"action": "order."})
    events = [json.loads(x) for x in b"".join(r.streaming_content).decode().splitlines()]
    assert events and all(e["action"].startswith("order.") for e in events)
    assert c.get("/api/v1/oversight/exports/trades.xml").status_code == 404


@pytest.mark.django_db
def test_freeze_and_unfreeze(world, trades, client_for):
    target = trades["fz_buyer"]
    fz, xm = client_for(world.fuzhou_approver), client_for(world.xiamen_approver)
    r = xm.post(f"/api/v1/oversight/organizations/{target.id}/freeze", {"reason": "x"}, format="json")
    assert r.status_code == 404
    r = fz.post(f"/api/v1/oversight/organizations/{target.id}/freeze", {}, format="json")
    assert r.status_code == 400
    r = fz.post(f"/api/v1/oversight/organizations/{target.id}/freeze", {"reason": "涉嫌操纵"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    target.refresh_from_db()
    with pytest.raises(ApiError) as exc:
        world.place(target, trades["fz_market"], "buy", 2_850_000, T)
    assert exc.value.code == "organization_suspended"
    ev = AuditEvent.objects.filter(action="organization.suspend", object_id=str(target.id)).get()
    assert ev.after["reason"] == "涉嫌操纵" and ev.actor_organization_id == world.fuzhou.id
    r = fz.post(f"/api/v1/oversight/organizations/{target.id}/unfreeze", {"reason": "已整改"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "active"
    target.refresh_from_db()
    assert world.place(target, trades["fz_market"], "buy", 100, T).order.status == "open"
    viewer = client_for(world.operator_viewer)
    assert viewer.post(f"/api/v1/oversight/organizations/{target.id}/freeze", {"reason": "x"},
                       format="json").status_code == 403
    assert ids(fz.get("/api/v1/oversight/organizations", {"kind": "enterprise"})) >= {target.id}
    assert target.id not in ids(xm.get("/api/v1/oversight/organizations"))


@pytest.mark.django_db
def test_halt_and_resume_market(world, trades, client_for):
    m = trades["fz_market"]
    fz, xm = client_for(world.fuzhou_approver), client_for(world.xiamen_approver)
    assert xm.post(f"/api/v1/oversight/markets/{m.id}/halt", {"reason": "x"}, format="json").status_code == 404
    r = fz.post(f"/api/v1/oversight/markets/{m.id}/halt", {"reason": "异常波动"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "halted"
    with pytest.raises(ApiError) as exc:
        world.place(trades["fz_buyer"], m, "buy", 2_850_000, T)
    assert exc.value.code == "market_halted"
    r = fz.post(f"/api/v1/oversight/markets/{m.id}/resume", {"reason": "恢复"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "open"
    assert {x["id"] for x in fz.get("/api/v1/oversight/markets").json()["results"]} == {m.id}
    assert AuditEvent.objects.filter(action="market.halt", object_id=str(m.id)).exists()


@pytest.mark.django_db
def test_rulebook_management(world, client_for):
    body = {"description": "2026 版", "rules": [
        {"kind": "basin", "params": {}},
        {"kind": "guided_price", "params": {"right_types": ["farmland"], "floor": 3_000_000, "ceiling": 8_000_000}}]}
    r = client_for(world.fuzhou_approver).post("/api/v1/oversight/rulebooks", body, format="json")
    assert r.status_code == 403 and r.json()["code"] == "rulebook_forbidden"
    r = client_for(world.province_approver).post("/api/v1/oversight/rulebooks", body, format="json")
    assert r.status_code == 201, r.content
    version = r.json()["version"]
    assert [x["kind"] for x in r.json()["rules"]] == ["basin", "guided_price"]
    ev = AuditEvent.objects.get(action="rule.change", object_type="rulebook", object_id=str(version))
    assert ev.actor_user_id == world.province_approver.user_id and len(ev.after["rules"]) == 2
    r = client_for(world.operator_approver).post("/api/v1/oversight/rulebooks", {"rules": [
        {"kind": "guided_price", "params": {"floor": 10, "ceiling": 1}}]}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid_rule"
    assert "rules[0].params.ceiling" in r.json()["fields"]
    r = client_for(world.operator_approver).post("/api/v1/oversight/rulebooks", {"rules": [
        {"kind": "nonsense", "params": {}}]}, format="json")
    assert r.status_code == 400
    r = client_for(world.operator_approver).post("/api/v1/oversight/rulebooks", {
        "rules": [], "effective_from": "2020-01-01T00:00:00+08:00"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "rulebook_effective_in_past"
    listing = client_for(world.xiamen_approver).get("/api/v1/oversight/rulebooks").json()
    assert listing[0]["version"] == version
    assert client_for(world.xiamen_approver).get(f"/api/v1/oversight/rulebooks/{version}").status_code == 200
    kinds = client_for(world.xiamen_approver).get("/api/v1/oversight/rule-kinds").json()
    assert "W-BASIN-001" in next(k for k in kinds if k["kind"] == "basin")["codes"]
    assert RulebookVersion.objects.count() == 1


@pytest.mark.django_db
def test_non_attainment_flags(world, client_for):
    fz = client_for(world.fuzhou_approver)
    body = {"region": "350102", "pollutant": "so2", "period_start": "2026-01-01", "period_end": "2026-12-31"}
    r = fz.post("/api/v1/oversight/non-attainment-flags", body, format="json")
    assert r.status_code == 201 and r.json()["pollutant"] == "SO2"
    r = fz.post("/api/v1/oversight/non-attainment-flags", {**body, "region": "350203"}, format="json")
    assert r.status_code == 404
    assert AuditEvent.objects.filter(action="rule.change", object_type="non_attainment_flag").count() == 1
    assert len(fz.get("/api/v1/oversight/non-attainment-flags").json()) == 1


@pytest.mark.django_db
def test_approvals_api(world, client_for, django_capture_on_commit_callbacks):
    install(("scope", {"city": "approve"}))
    m = world.market(subtype="NOx", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 10 * T)
    buyer = world.enterprise("350902")
    with django_capture_on_commit_callbacks(execute=True):  # the approval opens on the trade's commit
        trade = world.cross(seller, buyer, m, 3_425_000, T).trades[0]
    operator = client_for(world.operator_approver)
    r = operator.get("/api/v1/oversight/approvals", {"status": "pending"})
    assert r.status_code == 200
    (row,) = r.json()["results"]
    assert row["trade"] == trade.id and row["jurisdiction"] == "350000" and row["approvals"] == 0
    assert client_for(world.xiamen_approver).get("/api/v1/oversight/approvals").json()["results"] == []
    assert client_for(world.xiamen_approver).get(f"/api/v1/oversight/approvals/{row['id']}").status_code == 404
    r = operator.post(f"/api/v1/oversight/approvals/{row['id']}/approve", {"comment": "ok"}, format="json")
    assert r.status_code == 200 and r.json()["approvals"] == 1 and r.json()["trade_status"] == "pending_approval"
    r = operator.post(f"/api/v1/oversight/approvals/{row['id']}/approve", {}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "already_approved"
    r = client_for(world.province_approver).post(f"/api/v1/oversight/approvals/{row['id']}/approve", {},
                                                 format="json")
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["trade_status"] == "approved"
    r = client_for(world.province_approver).post(f"/api/v1/oversight/approvals/{row['id']}/reject",
                                                 {"reason": "late"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "approval_closed"
    pending = client_for(world.province_approver).get("/api/v1/oversight/reports/pending-approvals").json()
    assert pending["count"] == 0
    dossier = client_for(world.fuzhou_approver).get(f"/api/v1/oversight/trades/{trade.id}").json()
    assert [d["decision"] for d in dossier["approval"]["decisions"]] == ["approve", "approve"]
    assert {"approval.open", "approval.approve", "approval.release", "trade.approve"} <= {
        a["action"] for a in dossier["audit"]}


@pytest.mark.django_db
def test_proposer_cannot_approve_over_the_api(world, client_for, django_capture_on_commit_callbacks):
    from accounts.models import Membership

    install(("scope", {"city": "approve"}))
    m = world.market(subtype="NOx", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 10 * T)
    buyer = world.enterprise("350902")
    seat = Membership.objects.create(user=buyer.trader.user, organization=world.operator, role="approver")
    with django_capture_on_commit_callbacks(execute=True):  # the approval opens on the trade's commit
        world.cross(seller, buyer, m, 3_425_000, T)
    c = client_for(seat)
    (row,) = c.get("/api/v1/oversight/approvals").json()["results"]
    r = c.post(f"/api/v1/oversight/approvals/{row['id']}/approve", {}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "proposer_cannot_approve"
    assert ApprovalRequest.objects.get(pk=row["id"]).decisions.count() == 0


@pytest.mark.django_db
def test_audit_log_is_scoped_and_filtered(world, trades, client_for):
    xm = client_for(world.xiamen_approver)
    r = xm.get("/api/v1/oversight/audit", {"action": "order.place"})
    assert r.status_code == 200
    events = r.json()["results"]
    assert events and all(any(c.startswith("3502") for c in e["region_codes"]) for e in events)
    orgs = {e["actor_organization"] for e in events}
    assert trades["fz_seller"].id not in orgs and trades["xm_seller"].id in orgs
    everything = client_for(world.operator_viewer).get("/api/v1/oversight/audit", {"action": "order.place"}).json()
    assert len(everything["results"]) > len(events)
    r = xm.get("/api/v1/oversight/audit", {"actor_organization": trades["xm_buyer"].id, "object_type": "order"})
    assert {e["actor_organization"] for e in r.json()["results"]} == {trades["xm_buyer"].id}


@pytest.mark.django_db
def test_oversight_schema_generates_without_warnings():
    from django.urls import include, path
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/v1/", include("oversight.urls"))])
    schema = generator.get_schema(request=None, public=True)
    validate_schema(schema)
    assert not GENERATOR_STATS, (dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache))
    assert "/api/v1/oversight/trades/{id}" in schema["paths"]
    assert YUAN == 100
