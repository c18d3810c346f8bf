"""The compensation API: agreements created and signed over HTTP, CSV and JSON monitoring data, both parties
seeing the same data, regulators' jurisdiction, the per-region report built from the ledger (assistance
included by ledger kind), and the CSV export."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.actor import Actor
from compensation import services
from compensation.models import Assessment, CompensationApproval, Period
from ledger.models import AccountKind
from ledger.posting import AVAILABLE, Leg, accounts_ensure, atomic_post
from ledger.services import cny

from .conftest import approve_all, at, submit, tiers_spec
from .test_cycle import GOOD


def _body(w):
    spec = tiers_spec(w)
    return {"code": "ting-api", "name_zh": "汀江-韩江", "name_en": "Ting–Han", "basin": "tingjiang_hanjiang", **spec}


def _settled(w, agreement_in_force):
    v = agreement_in_force(w)
    submit(w, GOOD)
    services.compensation_tick(now=at(date(2024, 1, 1)), today=date(2024, 1, 1))
    services.compensation_tick(now=at(date(2025, 1, 2)), today=date(2025, 1, 2))
    a = Assessment.objects.get(period__version=v)
    approve_all(w, a.approval, now=a.objection_until)
    return v


@pytest.mark.django_db
def test_create_sign_and_approve_over_http(world, client_for):
    w = world
    r = client_for(w.up_admin).post("/api/v1/compensation/agreements", _body(w), format="json")
    assert r.status_code == 201, r.content
    agreement = r.json()
    version = agreement["versions"][0]
    assert version["terms"]["tiers"][0]["amount"] == "100.00" and version["parties"][0]["contribution"] == "100.00"
    r = client_for(w.up_admin, language="zh").post(
        "/api/v1/compensation/agreements", {**_body(w), "code": "x2", "terms": {"section": "ting-boundary",
                                                                                  "tiers": [{"min_rate": "0",
                                                                                             "amount": "1e3"}]}},
        format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid_agreement" and "补偿协议" in r.json()["message"]
    url = f"/api/v1/compensation/versions/{version['id']}/sign"
    assert client_for(w.up_viewer).post(url, {}, format="json").status_code == 403
    assert client_for(w.up_admin).post(url, {}, format="json").status_code == 200
    r = client_for(w.down_admin).post(url, {}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "pending_approval"
    approvals = client_for(w.prov_a).get("/api/v1/compensation/approvals").json()["results"]
    approval = next(a for a in approvals if a["version"] == version["id"])
    assert client_for(w.city_fz).get("/api/v1/compensation/approvals").json()["results"] == []
    r = client_for(w.down_admin).post(f"/api/v1/compensation/approvals/{approval['id']}/approve", {}, format="json")
    assert r.status_code == 404  # a party's member does not even see the approval queue
    assert client_for(w.prov_a).post(f"/api/v1/compensation/approvals/{approval['id']}/approve", {},
                                     format="json").status_code == 200
    r = client_for(w.prov_b).post(f"/api/v1/compensation/approvals/{approval['id']}/approve", {"comment": "ok"},
                                  format="json")
    assert r.status_code == 200 and r.json()["status"] == "pending" and r.json()["required"] == 4
    # Longyan–Guangdong is cross-provincial: Guangdong's regulator gives its own two approvals
    for m in (w.gd_a, w.gd_b):
        r = client_for(m).post(f"/api/v1/compensation/approvals/{approval['id']}/approve", {}, format="json")
        assert r.status_code == 200, r.content
    assert r.json()["status"] == "approved"
    assert CompensationApproval.objects.get(pk=approval["id"]).version.status == "in_force"


@pytest.mark.django_db
def test_monitoring_data_by_json_and_csv(world, client_for, agreement_in_force):
    w = world
    agreement_in_force(w)
    station = client_for(w.station_member)
    r = station.post("/api/v1/compensation/measurements", {"rows": [
        {"section": "ting-boundary", "indicator": "nh3n", "month": "2024-01", "value": "0.52", "unit": "mg/L"}]},
        format="json")
    assert r.status_code == 201, r.content
    text = ("\ufeffsection,indicator,month,value,unit,reason\n"
            "ting-boundary,codmn,2024-01,3.1,mg/L,\n"
            "ting-boundary,nh3n,2024-01,0.61,mg/L,re-sampled after a storm\n")
    r = station.post("/api/v1/compensation/measurements/upload",
                     {"file": SimpleUploadedFile("m.csv", text.encode(), content_type="text/csv")}, format="multipart")
    assert r.status_code == 201, r.content
    assert [(m["indicator"], m["version"]) for m in r.json()["results"]] == [("codmn", 1), ("nh3n", 2)]
    bad = "section,indicator,month,value,unit\nting-boundary,nh3n,2024-02,99,mg/L\n"
    r = station.post("/api/v1/compensation/measurements/upload",
                     {"file": SimpleUploadedFile("m.csv", bad.encode(), content_type="text/csv")}, format="multipart")
    assert r.status_code == 400 and r.json()["code"] == "invalid_measurement" and "rows[0]" in r.json()["fields"]
    r = client_for(w.up_admin).post("/api/v1/compensation/measurements", {"rows": [
        {"section": "ting-boundary", "indicator": "nh3n", "month": "2024-03", "value": "0.5", "unit": "mg/L"}]},
        format="json")
    assert r.status_code == 403 and r.json()["code"] == "not_a_station"
    # both parties (any role) see the same data; an outsider sees none
    seen = [client_for(m).get("/api/v1/compensation/measurements").json()["results"] for m in
            (w.up_viewer, w.down_admin, w.prov_a)]
    assert seen[0] == seen[1] == seen[2] and len(seen[0]) == 3
    assert client_for(w.city_fz).get("/api/v1/compensation/measurements").json()["results"] == []


@pytest.mark.django_db
def test_jurisdiction_and_both_parties_see_the_same_agreement(world, client_for, agreement_in_force):
    w = world
    v = _settled(w, agreement_in_force)
    url = f"/api/v1/compensation/agreements/{v.agreement_id}"
    views = {name: client_for(m).get(url) for name, m in (
        ("up", w.up_viewer), ("down", w.down_admin), ("ly", w.city_ly), ("prov", w.prov_a), ("op", w.operator_admin),
        ("station", w.station_member), ("fz", w.city_fz))}
    assert views["fz"].status_code == 404
    bodies = {k: r.json() for k, r in views.items() if k != "fz"}
    assert all(r.status_code == 200 for k, r in views.items() if k != "fz")
    assert bodies["up"] == bodies["down"] == bodies["ly"] == bodies["prov"] == bodies["op"] == bodies["station"]
    body = bodies["up"]
    assert body["cumulative_total"] == "100.00"
    period = body["periods"][0]
    assert period["assessments"][0]["status"] == "settled"
    assert period["assessments"][0]["transfers"] == [{"payer": w.down.id, "payee": w.up.id, "amount": "100.00"}]
    assert body["sections"][0]["series"]["nh3n"]["unit"] == "mg/L"
    assert len(body["sections"][0]["series"]["nh3n"]["points"]) == 12
    listed = client_for(w.city_fz).get("/api/v1/compensation/agreements").json()["results"]
    assert listed == []


@pytest.mark.django_db
def test_region_report_from_the_ledger_includes_assistance(world, client_for, agreement_in_force, make_org):
    w = world
    _settled(w, agreement_in_force)
    # a paired-assistance payment as the assistance app posts it (kind `assistance_payment`): the report reads
    # the ledger, not that app
    payer, county = make_org("county_government", "350102"), make_org("county_government", "350821")
    from ledger.services import cash_deposit
    cash_deposit(actor=Actor.system(), organization=payer, amount=5000, bank_reference="t", idempotency_key="asst")
    c = cny()
    fund = AccountKind.EARMARKED_ASSISTANCE  # the payee's paired-assistance fund
    ids = accounts_ensure([(payer.id, c.id, AccountKind.PARTICIPANT), (county.id, c.id, fund)])
    atomic_post(kind="assistance_payment", idempotency_key="test:assistance:1", request={"n": 1}, actor=Actor.system(),
                legs=[Leg(ids[(payer.id, c.id, "participant")], AVAILABLE, -1200),
                      Leg(ids[(county.id, c.id, fund)], AVAILABLE, 1200)])
    rows = {r["region"]: r for r in client_for(w.prov_a).get("/api/v1/compensation/reports/regions").json()["rows"]}
    assert rows["350800"]["by_kind"] == {"compensation_transfer": {"received": "100.00", "paid": "0.00"}}
    assert rows["350821"]["by_kind"] == {"assistance_payment": {"received": "12.00", "paid": "0.00"}}
    # each earmarked fund apart (issue #17: funds per purpose)
    assert rows["350821"]["funds"] == {"farmland": "0.00", "basin_compensation": "0.00", "paired_assistance": "12.00"}
    assert rows["350800"]["funds"]["basin_compensation"] == "100.00"
    assert rows["350102"]["paid"] == "12.00"
    assert "440000" not in rows  # Guangdong is outside the Fujian regulator's jurisdiction
    op_rows = {r["region"]: r for r in client_for(w.operator_admin).get(
        "/api/v1/compensation/reports/regions").json()["rows"]}
    assert op_rows["440000"]["paid"] == "100.00" and "trading_proceeds" in op_rows["440000"]
    ly_rows = {r["region"] for r in client_for(w.city_ly).get("/api/v1/compensation/reports/regions").json()["rows"]}
    assert ly_rows == {"350800", "350821"}
    assert client_for(w.up_admin).get("/api/v1/compensation/reports/regions").status_code == 403


@pytest.mark.django_db
def test_results_export_csv(world, client_for, agreement_in_force):
    w = world
    _settled(w, agreement_in_force)
    r = client_for(w.prov_a).get("/api/v1/compensation/exports/results.csv?lang=en")
    assert r.status_code == 200
    body = b"".join(r.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert len(rows) == 1 and rows[0]["amount"] == "100.00" and rows[0]["status"] == "settled"
    assert rows[0]["kind"] == "compensation"  # the central reward's rows say central_reward
    assert rows[0]["payee"] == str(w.up.id)
    r = client_for(w.city_fz).get("/api/v1/compensation/exports/results.csv")
    assert b"".join(r.streaming_content).decode("utf-8").count("\n") == 1  # the header only
    assert Period.objects.filter(status="settled").count() == 1


@pytest.mark.django_db
def test_objection_over_http(world, client_for, agreement_in_force):
    w = world
    v = agreement_in_force(w)
    submit(w, GOOD)
    services.compensation_tick(now=at(date(2024, 1, 1)), today=date(2024, 1, 1))
    services.compensation_tick(now=at(date(2025, 1, 2)), today=date(2025, 1, 2))
    a = Assessment.objects.get(period__version=v)
    Assessment.objects.filter(pk=a.pk).update(objection_until=at(date(2099, 1, 1)))
    r = client_for(w.down_admin).post(f"/api/v1/compensation/assessments/{a.pk}/object", {"reason": "sample lost"},
                                      format="json")
    assert r.status_code == 201, r.content
    obj = r.json()["id"]
    assert client_for(w.city_fz).post(f"/api/v1/compensation/objections/{obj}/resolve",
                                      {"outcome": "dismiss", "resolution": "x"}, format="json").status_code == 404
    r = client_for(w.prov_a).post(f"/api/v1/compensation/objections/{obj}/resolve",
                                  {"outcome": "uphold", "resolution": "the sample was lost"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "upheld"
    a.refresh_from_db()
    assert a.status == "rejected"
