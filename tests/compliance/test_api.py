"""The compliance API end to end: open a year, cover, allocate (confirmed at the ledger's maker–checker
endpoint by another person), submit emissions, surrender, read obligations; decimal strings at the edge;
errors in the envelope with registered codes, in zh and en."""
from __future__ import annotations

import hashlib

import pytest

from compliance.models import ComplianceCoverage

pytestmark = pytest.mark.django_db
H = hashlib.sha256(b"report").hexdigest()


def test_the_cycle_through_the_api(cw, client_for):
    maker, checker = client_for(cw.maker), client_for(cw.checker)
    r = maker.post("/api/v1/compliance/years", {"right_type": "carbon", "region": "350000", "year": 2025,
                                                "allocation_asset": cw.asset.code, "deadline": "2026-12-31"},
                   format="json")
    assert r.status_code == 201, r.json()
    year = r.json()["id"]
    r = maker.post("/api/v1/compliance/enterprises", {"year": year, "organization": cw.fz.pk, "method": "benchmark",
                                                      "benchmark": "0.8218", "verifier": cw.verifier.pk}, format="json")
    assert r.status_code == 201, r.json()
    r = maker.post("/api/v1/compliance/allocations", {"year": year, "organization": cw.fz.pk, "phase": "pre",
                                                      "expected_output": "1000"}, format="json",
                   HTTP_IDEMPOTENCY_KEY="pre-1")
    assert r.status_code == 201 and r.json()["amount"] == "576" and r.json()["status"] == "pending"  # 575.26 → 576
    replay = maker.post("/api/v1/compliance/allocations", {"year": year, "organization": cw.fz.pk, "phase": "pre",
                                                           "expected_output": "1000"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="pre-1")
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == r.json()["id"]
    movement = r.json()["movement"]
    assert maker.post(f"/api/v1/movement-requests/{movement}/confirm").status_code == 403
    assert checker.post(f"/api/v1/movement-requests/{movement}/confirm").status_code in (200, 201)
    v = client_for(cw.verifier_m)
    r = v.post("/api/v1/compliance/emissions", {"year": year, "organization": cw.fz.pk, "amount": "800",
                                                "output": "1000.5", "evidence_sha256": H,
                                                "evidence_reference": "闽碳核〔2026〕1号"}, format="json")
    assert r.status_code == 201 and r.json()["version"] == 1, r.json()
    e = client_for(cw.fz_m)
    r = e.post("/api/v1/compliance/surrenders", {"year": year, "asset": cw.asset.code, "amount": "500"},
               format="json", HTTP_IDEMPOTENCY_KEY="s-1")
    assert r.status_code == 201, r.json()
    ob = e.get("/api/v1/compliance/obligations").json()
    assert len(ob) == 1 and {k: ob[0][k] for k in ("allocated", "emissions", "obligation", "surrendered",
                                                    "remaining", "deadline")} == {
        "allocated": "576", "emissions": "800", "obligation": "800", "surrendered": "500", "remaining": "300",
        "deadline": "2026-12-31"}
    allocations = client_for(cw.fz_m).get("/api/v1/compliance/allocations").json()
    assert [a["status"] for a in allocations] == ["confirmed"]
    assert [x["version"] for x in client_for(cw.fz_m).get("/api/v1/compliance/emissions").json()] == [1]
    assert client_for(cw.xm_m).get("/api/v1/compliance/emissions").json() == []


def test_refusals_are_registered_codes_in_both_languages(cw, client_for):
    year = cw.year()
    cw.cover(year, cw.fz, listed=1000)
    cw.allocate(year, cw.fz)
    body = {"year": year.pk, "asset": cw.asset.code, "amount": "10"}
    en = client_for(cw.fz_m).post("/api/v1/compliance/surrenders", body, format="json", HTTP_IDEMPOTENCY_KEY="a")
    zh = client_for(cw.fz_m, language="zh-hans").post("/api/v1/compliance/surrenders", body, format="json",
                                                      HTTP_IDEMPOTENCY_KEY="b")
    assert en.status_code == zh.status_code == 422
    assert en.json()["code"] == zh.json()["code"] == "compliance_emissions_not_verified"
    assert "verified" in en.json()["message"] and "核查" in zh.json()["message"]
    bad = client_for(cw.fz_m).post("/api/v1/compliance/surrenders", {**body, "amount": 10}, format="json",
                                   HTTP_IDEMPOTENCY_KEY="c")
    assert bad.status_code == 400 and bad.json()["code"] in ("invalid_number", "validation_error")
    nokey = client_for(cw.fz_m).post("/api/v1/compliance/surrenders", body, format="json")
    assert nokey.status_code == 400 and nokey.json()["code"] == "idempotency_key_required"
    wrong = client_for(cw.verifier_m).post("/api/v1/compliance/emissions", {
        "year": year.pk, "organization": cw.xm.pk, "amount": "1", "evidence_sha256": H, "evidence_reference": "r"},
        format="json")
    assert wrong.status_code == 422 and wrong.json()["code"] == "compliance_enterprise_not_covered"
    # roles and kinds: an enterprise cannot submit emissions nor open years; a verifier cannot surrender
    assert client_for(cw.fz_m).post("/api/v1/compliance/emissions", {}, format="json").status_code == 403
    assert client_for(cw.fz_m).post("/api/v1/compliance/years", {}, format="json").status_code == 403
    assert client_for(cw.verifier_m).post("/api/v1/compliance/surrenders", body, format="json",
                                          HTTP_IDEMPOTENCY_KEY="d").status_code == 403


def test_coverage_endpoint(cw, make_org, make_member, client_for):
    county_admin = make_member(make_org("county_government", "350121"), "admin")
    c = client_for(county_admin)
    r = c.post("/api/v1/compliance/coverage", {"right_type": "emission", "subtype": "COD", "region": "350121",
                                               "since_year": 2026}, format="json")
    assert r.status_code == 201, r.json()
    again = c.post("/api/v1/compliance/coverage", {"right_type": "emission", "subtype": "COD", "region": "350121",
                                                   "since_year": 2026}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "compliance_coverage_exists"
    assert c.post("/api/v1/compliance/coverage", {"right_type": "nope", "region": "350121", "since_year": 2026},
                  format="json").json()["code"] == "unknown_right_type"
    listed = client_for(cw.fz_m).get("/api/v1/compliance/coverage").json()
    assert {(x["right_type"], x["subtype"], x["region"]) for x in listed} == {
        ("carbon", "", "350000"), ("emission", "COD", "350121")}
    assert ComplianceCoverage.objects.count() == 2
