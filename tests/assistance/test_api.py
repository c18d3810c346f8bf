"""The assistance API end to end: the whole flow over HTTP (propose, approve, pay, confirm) with decimal
strings at the edge and registered codes for refusals; jurisdiction scope of lists, details, reports and
exports (a regulator sees a pair when either party lies in its jurisdiction; outside it is a 404)."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from assistance import services

from .conftest import MINIMUM, pay

pytestmark = pytest.mark.django_db
THIS_YEAR = timezone.localdate().year


def test_the_flow_over_http(govs, prov, client_for):
    payer, payee = govs("350203", cash=20_000_000_00), govs("350724")
    r = client_for(payer.admin).post("/api/v1/assistance/pairs", {
        "payer": payer.org.pk, "payee": payee.org.pk, "annual_minimum": "11999999.99",
        "effective_year": THIS_YEAR}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "assistance_minimum_below_plan", r.content
    r = client_for(payer.admin).post("/api/v1/assistance/pairs", {
        "payer": payer.org.pk, "payee": payee.org.pk, "annual_minimum": "12000000.00",
        "effective_year": THIS_YEAR, "description": "山海协作"}, format="json")
    assert r.status_code == 201, r.content
    agreement, pair_id = r.json()["id"], r.json()["pair"]
    assert r.json()["annual_minimum"] == "12000000.00" and r.json()["status"] == "pending"
    # a payment before approval: no agreement in force
    key = {"HTTP_IDEMPOTENCY_KEY": "pay-1"}
    body = {"pair": pair_id, "amount": "1000000.00", "purpose_code": "industry_transfer", "description": "共建园区"}
    r = client_for(payer.trader).post("/api/v1/assistance/payments", body, format="json", **key)
    assert r.status_code == 422 and r.json()["code"] == "assistance_no_agreement", r.content
    r = client_for(prov.approver).post(f"/api/v1/assistance/agreements/{agreement}/approve", format="json")
    assert r.status_code == 200 and r.json()["status"] == "approved", r.content
    r = client_for(payer.trader).post("/api/v1/assistance/payments", body, format="json")
    assert r.status_code == 400 and r.json()["code"] == "idempotency_key_required"
    r = client_for(payer.trader).post("/api/v1/assistance/payments", {**body, "amount": 1000}, format="json", **key)
    assert r.status_code == 400 and r.json()["code"] == "invalid_number", r.content
    r = client_for(payer.trader).post("/api/v1/assistance/payments", body, format="json", **key)
    assert r.status_code == 202 and r.json()["status"] == "pending", r.content
    payment = r.json()["id"]
    r = client_for(payer.trader).post("/api/v1/assistance/payments", body, format="json", **key)
    assert r.status_code == 200 and r["Idempotent-Replayed"] == "true" and r.json()["id"] == payment
    r = client_for(payer.admin).post(f"/api/v1/assistance/payments/{payment}/confirm", format="json")
    assert r.status_code == 201 and r.json()["status"] == "confirmed" and r.json()["ledger_transaction"], r.content
    r = client_for(payer.admin).post(f"/api/v1/assistance/payments/{payment}/confirm", format="json")
    assert r.status_code == 200
    detail = client_for(payee.admin).get(f"/api/v1/assistance/pairs/{pair_id}").json()
    this_year = next(p for p in detail["progress"] if p["year"] == THIS_YEAR)
    assert (this_year["paid"], this_year["minimum"], this_year["shortfall"]) == (
        "1000000.00", "12000000.00", "11000000.00")
    assert [a["version"] for a in detail["agreements"]] == [1]
    # the receipt is in the payee's earmarked fund, not its free cash
    from ledger.models import Account

    fund = Account.objects.get(organization=payee.org, kind="earmarked_assistance")
    assert fund.available == 1_000_000_00
    assert not Account.objects.filter(organization=payee.org, kind="participant", available__gt=0).exists()


@pytest.fixture
def scoped(approved_pair, make_org, make_member, prov, govs):
    """A Xiamen → Nanping pair (short this year), the Fuzhou and Xiamen regulators, an enterprise."""
    ns = approved_pair(payer_region="350203", payee_region="350724", year=THIS_YEAR, cash=MINIMUM)
    pay(ns, 100_00, year=THIS_YEAR)
    fz = make_org("regulator", "350100", jurisdiction="350100")
    xm = make_org("regulator", "350200", jurisdiction="350200")
    return {"pair": ns, "province": prov.approver, "fz": make_member(fz, "approver"),
            "xm": make_member(xm, "viewer"), "payee": ns.payee.trader, "payer": ns.payer.admin,
            "other_gov": govs("350102").admin, "enterprise": make_member(make_org("enterprise", "350203"), "admin")}


SEES = {"province": True, "xm": True, "payee": True, "payer": True, "fz": False, "other_gov": False}


def test_jurisdiction_scope_of_pairs_and_reports(scoped, client_for):
    pair_id = scoped["pair"].pair.pk
    for who, sees in SEES.items():
        client = client_for(scoped[who])
        listed = {row["id"] for row in client.get("/api/v1/assistance/pairs").json()["results"]}
        assert (pair_id in listed) == sees, who
        assert client.get(f"/api/v1/assistance/pairs/{pair_id}").status_code == (200 if sees else 404), who
        rows = client.get("/api/v1/assistance/reports/progress").json()["rows"]
        assert (pair_id in {r["pair"] for r in rows}) == sees, who
        regions = {r["region"] for r in client.get("/api/v1/assistance/reports/regions").json()["rows"]}
        assert ("350203" in regions) == sees, who
        export = client.get("/api/v1/assistance/exports/progress.csv?lang=en")
        assert export.status_code == 200
        text = b"".join(export.streaming_content).decode("utf-8-sig")
        exported = list(csv.DictReader(io.StringIO(text)))
        assert (str(pair_id) in {r["pair"] for r in exported}) == sees, who
    # an enterprise reads no pairs at all
    assert client_for(scoped["enterprise"]).get("/api/v1/assistance/pairs").status_code == 403


def test_report_figures(scoped, client_for):
    body = client_for(scoped["province"]).get(f"/api/v1/assistance/reports/progress?year={THIS_YEAR}").json()
    row = next(r for r in body["rows"] if r["pair"] == scoped["pair"].pair.pk)
    assert (row["minimum"], row["paid"], row["shortfall"]) == ("12000000.00", "100.00", "11999900.00")
    regions = {r["region"]: r for r in client_for(scoped["province"]).get(
        "/api/v1/assistance/reports/regions").json()["rows"]}
    assert regions["350203"]["obligation"] == "12000000.00" and regions["350203"]["paid"] == "100.00"
    assert regions["350724"]["received"] == "100.00"
    zh = client_for(scoped["province"]).get("/api/v1/assistance/exports/progress.csv?lang=zh")
    head = b"".join(zh.streaming_content).decode("utf-8-sig").splitlines()[0]
    assert head.startswith("结对编号,年度")
    r = client_for(scoped["province"]).get("/api/v1/assistance/reports/progress?year=20x5")
    assert r.status_code == 400 and r.json()["code"] == "validation_error"


def test_decisions_outside_the_jurisdiction_are_404(scoped, client_for, govs, prov):
    agreement = services.agreement_propose(membership=scoped["pair"].payer.admin, pair=scoped["pair"].pair,
                                           annual_minimum=MINIMUM, effective_year=THIS_YEAR + 1)
    r = client_for(scoped["fz"]).post(f"/api/v1/assistance/agreements/{agreement.pk}/approve", format="json")
    assert r.status_code == 404
    # the Xiamen regulator sees it but is not the provincial one
    r = client_for(scoped["xm"]).post(f"/api/v1/assistance/agreements/{agreement.pk}/approve", format="json")
    assert r.status_code == 403
    r = client_for(prov.admin).post(f"/api/v1/assistance/agreements/{agreement.pk}/reject", {"reason": "否"},
                                    format="json")
    assert r.status_code == 200 and r.json()["status"] == "rejected"


def test_commitments_over_http_and_their_scope(farmland_trade, client_for, make_org, make_member, prov):
    ft = farmland_trade()
    due = (timezone.localdate() - timedelta(days=1)).isoformat()
    r = client_for(ft.buyer.admin).post("/api/v1/assistance/commitments", {
        "trade": ft.trade.pk, "kind": "industry_transfer", "amount": "3000000.00", "due_date": due,
        "description": "产业转移项目落地"}, format="json")
    assert r.status_code == 201 and r.json()["state"] == "overdue", r.content
    commitment = r.json()["id"]
    fz = make_member(make_org("regulator", "350100", jurisdiction="350100"), "approver")
    np_ = make_member(make_org("regulator", "350700", jurisdiction="350700"), "approver")
    for member, sees in ((prov.approver, True), (np_, True), (fz, False)):
        overdue = client_for(member).get("/api/v1/assistance/commitments?status=overdue").json()["results"]
        assert (commitment in {c["id"] for c in overdue}) == sees
        code = client_for(member).get(f"/api/v1/assistance/commitments/{commitment}").status_code
        assert code == (200 if sees else 404)
    r = client_for(ft.buyer.admin).post(f"/api/v1/assistance/commitments/{commitment}/fulfilments", {
        "amount": "3000000.00", "description": "项目投产", "evidence": {"document": "投产确认书-01"}}, format="json")
    assert r.status_code == 201, r.content
    detail = client_for(prov.approver).get(f"/api/v1/assistance/commitments/{commitment}").json()
    assert detail["state"] == "fulfilled" and detail["outstanding"] == "0.00" and len(detail["fulfilments"]) == 1
    export = client_for(prov.approver).get("/api/v1/assistance/exports/commitments.csv?lang=en")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert {r["id"]: r["state"] for r in rows}[str(commitment)] == "fulfilled"
    # a stranger naming the trade: 404, not a hint that it exists
    r = client_for(fz).post("/api/v1/assistance/commitments", {
        "trade": ft.trade.pk, "kind": "cash", "amount": "1.00", "due_date": due, "description": "x"}, format="json")
    assert r.status_code in (403, 404)
