"""The ledger API: every endpoint, who may call it, what each caller may see (other organizations'
transactions are 404s), bad input as 4xx with stable codes and the ledger unchanged, idempotent
replays and conflicts, and the streaming journal exports."""
import csv
import io
import json
import time
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from accounts.actor import Actor
from ledger import services
from ledger.models import Account, LedgerTransaction, Posting
from ledger.sealing import seal

from tests.support.rfc9162 import verify_consistency, verify_inclusion

pytestmark = pytest.mark.django_db


def ledger_state():
    return (LedgerTransaction.objects.count(), Posting.objects.count(),
            sorted(Account.objects.values_list("id", "available", "held")))


def refused(response, status, expected_code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == expected_code, body
    return body


@pytest.fixture
def w(make_org, make_member, client_for, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # seven users per test
    w = SimpleNamespace()
    w.county = make_org("county_government", "350121", name="闽侯县人民政府")
    w.ent = make_org("enterprise", "350121", name="闽江热电")
    w.ent2 = make_org("enterprise", "350205", name="海沧新材料")
    w.fz_reg = make_org("regulator", "350100", jurisdiction="350100")
    w.xm_reg = make_org("regulator", "350200", jurisdiction="350200")
    w.operator = make_org("exchange_operator", "350000")
    w.c_county = client_for(make_member(w.county, "trader"))
    w.c_ent = client_for(make_member(w.ent, "trader"))
    w.c_ent_viewer = client_for(make_member(w.ent, "viewer"))
    w.c_ent2 = client_for(make_member(w.ent2, "admin"))
    w.c_fz = client_for(make_member(w.fz_reg, "approver"))
    w.c_xm = client_for(make_member(w.xm_reg, "approver"))
    w.c_op = client_for(make_member(w.operator, "admin"))
    w.c_checker = client_for(make_member(w.operator, "approver"))  # confirms what the others propose
    for name, value in list(vars(w).items()):
        if name.startswith("c_"):
            value.checker = w.c_checker
    actor = Actor.system()
    w.so2 = services.asset_create(actor=actor, code="EM-SO2-2026-350121", right_type_id="emission", subtype="SO2",
                                  unit="t", scale=3, vintage=2026, origin_region_id="350121", issuer=w.county,
                                  valid_from=date(2026, 1, 1), valid_to=date(2030, 12, 31))
    w.water = services.asset_create(actor=actor, code="W-MJ-2026-350121", right_type_id="water", subtype="", unit="m3",
                                    scale=0, vintage=2026, origin_region_id="350121", issuer=w.county,
                                    basin_id="minjiang")
    w.farm = services.asset_create(actor=actor, code="FL-QTY-2026-350121", right_type_id="farmland",
                                   subtype="quantity", unit="mu", scale=2, vintage=2026, origin_region_id="350121",
                                   issuer=w.county)
    w.issued = services.rights_issue(actor=actor, issuer=w.county, asset=w.so2, recipient=w.ent, amount=100_000,
                                     idempotency_key="seed-issue").transaction_id
    w.deposited = services.cash_deposit(actor=actor, organization=w.ent, amount=1_000_000, bank_reference="B0",
                                        idempotency_key="seed-dep").transaction_id
    return w


MAKER_CHECKER = {"cash/deposits", "cash/withdrawals", "transfers", "issuances"}


def post(client, url, data, key="k1", **extra):
    """POST; a maker–checker proposal (202, or 200 on a replay) is then confirmed by `client.checker`, another
    person, and the confirmation's response is returned (what the one-step call used to answer)."""
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    response = client.post(f"/api/v1/{url}", data, format="json", **headers, **extra)
    if url in MAKER_CHECKER and response.status_code in (200, 202) and "status" in response.json():
        return client.checker.post(f"/api/v1/movement-requests/{response.json()['id']}/confirm", format="json")
    return response


# --- holdings and statements -------------------------------------------------------------------------

def test_holdings_are_the_acting_organizations_own_as_decimal_strings(w):
    rows = w.c_ent.get("/api/v1/holdings").json()
    got = {(r["asset"], r["kind"]): (r["available"], r["held"]) for r in rows}
    assert got == {("CNY", "participant"): ("10000.00", "0.00"), ("EM-SO2-2026-350121", "participant"): ("100.000",
                                                                                                          "0.000")}
    assert w.c_ent2.get("/api/v1/holdings").json() == []


def test_government_sees_its_earmarked_funds(w):
    rows = w.c_county.get("/api/v1/holdings").json()
    assert {"account": None, "kind": "earmarked", "fund": "farmland", "asset": "CNY", "asset_name": "人民币",
            "unit": "CNY", "available": "0.00", "held": "0.00"} in rows
    assert {(r["kind"], r["fund"]) for r in rows if r["fund"]} == {
        ("earmarked", "farmland"), ("earmarked_basin", "basin_compensation"),
        ("earmarked_assistance", "paired_assistance")}
    assert not Account.objects.filter(organization=w.county).exists()  # a GET opened nothing


def test_statements_paginate_and_filter(w):
    actor = Actor.system()
    for i in range(3):
        services.hold_create(actor=actor, organization=w.ent, asset=w.so2, amount=10 + i, idempotency_key=f"h{i}")
    r = w.c_ent.get("/api/v1/statements?page_size=4")
    assert r.status_code == 200
    page = r.json()
    assert len(page["results"]) == 4 and page["next"]
    ids = [x["id"] for x in page["results"]]
    assert ids == sorted(ids, reverse=True)
    rest = w.c_ent.get(page["next"]).json()["results"]
    assert len(rest) == 4  # 2 (issue, deposit) + 6 (three holds of two legs)
    line = rest[-1]
    assert line["kind"] == "issue" and line["amount"] == "100.000" and line["bucket"] == "available"
    holds = w.c_ent.get("/api/v1/statements?kind=hold&asset=EM-SO2-2026-350121").json()["results"]
    assert len(holds) == 6 and {x["amount"] for x in holds} >= {"-0.010", "0.012"}
    assert w.c_ent.get("/api/v1/statements?asset=CNY").json()["results"][0]["amount"] == "10000.00"
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert w.c_ent.get("/api/v1/statements", {"from": future}).json()["results"] == []
    assert len(w.c_ent.get("/api/v1/statements", {"to": future, "page_size": 100}).json()["results"]) == 8
    refused(w.c_ent.get("/api/v1/statements?asset=NOPE"), 400, "unknown_asset")
    assert w.c_ent2.get("/api/v1/statements").json()["results"] == []  # nothing of ent's


# --- transactions ------------------------------------------------------------------------------------

def test_transaction_detail_visibility(w):
    url = f"/api/v1/transactions/{w.issued}"
    body = w.c_ent.get(url).json()
    assert body["kind"] == "issue" and body["sealed"] is False and body["proof"] is None
    assert {p["amount"] for p in body["postings"]} == {"100.000", "-100.000"}
    assert json.loads(body["canonical"])["id"] == w.issued
    assert w.c_ent_viewer.get(url).status_code == 200
    refused(w.c_ent2.get(url), 404, "not_found")  # another organization's: as if it did not exist
    assert w.c_op.get(url).status_code == 200
    assert w.c_fz.get(url).status_code == 200  # Fuzhou's regulator: Minhou is in its jurisdiction
    refused(w.c_xm.get(url), 404, "not_found")  # Xiamen's is not
    refused(w.c_county.get(url), 404, "not_found")  # the issuer's own accounts are not touched
    refused(w.c_ent.get("/api/v1/transactions/999999999"), 404, "not_found")
    # a transfer into Xiamen makes it Xiamen's business too
    t = services.rights_transfer(actor=Actor.system(), asset=w.so2, sender=w.ent, recipient=w.ent2, amount=1,
                                 idempotency_key="t").transaction_id
    assert w.c_xm.get(f"/api/v1/transactions/{t}").status_code == 200
    assert w.c_ent2.get(f"/api/v1/transactions/{t}").status_code == 200


def test_unauthenticated_is_refused(w, anon_client):
    refused(anon_client.get("/api/v1/holdings"), 401, "not_authenticated")


# --- proofs (sealing needs committed transactions) ----------------------------------------------------

def _seal_all():
    deadline = time.monotonic() + 60
    while LedgerTransaction.objects.filter(leaf__isnull=True).exists():
        seal()
        assert time.monotonic() < deadline
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_inclusion_and_consistency_proofs_over_the_api(w):
    _seal_all()
    first = w.c_ent.get("/api/v1/checkpoints").json()["results"][0]
    for i in range(5):
        services.hold_create(actor=Actor.system(), organization=w.ent, asset=w.so2, amount=1, idempotency_key=f"h{i}")
    _seal_all()
    heads = w.c_ent.get("/api/v1/checkpoints").json()["results"]
    latest = heads[0]
    assert latest["tree_size"] == first["tree_size"] + 5
    body = w.c_ent.get(f"/api/v1/transactions/{w.issued}").json()
    proof = body["proof"]
    assert body["sealed"] and proof["tree_size"] == latest["tree_size"]
    assert proof["checkpoint"]["signature"] == latest["signature"] and len(latest["signature"]) == 128  # Ed25519, hex
    import hashlib
    leaf = hashlib.sha256(b"\x00" + body["canonical"].encode()).digest()
    assert leaf.hex() == proof["leaf_hash"]
    assert verify_inclusion(proof["leaf_index"], proof["tree_size"], leaf,
                            [bytes.fromhex(h) for h in proof["audit_path"]], bytes.fromhex(proof["root_hash"]))
    # under the older checkpoint too
    old = w.c_ent.get(f"/api/v1/transactions/{w.issued}?tree_size={first['tree_size']}").json()["proof"]
    assert old["root_hash"] == first["root_hash"]
    r = w.c_ent.get(f"/api/v1/checkpoints/consistency?from={first['tree_size']}&to={latest['tree_size']}").json()
    assert verify_consistency(first["tree_size"], latest["tree_size"], bytes.fromhex(r["from_root_hash"]),
                              bytes.fromhex(r["to_root_hash"]), [bytes.fromhex(h) for h in r["proof"]])
    refused(w.c_ent.get(f"/api/v1/checkpoints/consistency?from={latest['tree_size']}&to={first['tree_size']}"),
            400, "invalid_proof_range")
    refused(w.c_ent.get("/api/v1/checkpoints/consistency?from=0&to=3"), 400, "invalid_proof_range")
    refused(w.c_ent.get(f"/api/v1/checkpoints/consistency?from=1&to={latest['tree_size'] + 1}"), 400,
            "invalid_proof_range")
    refused(w.c_ent.get("/api/v1/checkpoints/consistency?from=x&to=3"), 400, "validation_error")
    # the full verification (over the API it is a background job: tests/ledger/test_verification_jobs.py)
    from ledger.verify import verify_ledger

    report = verify_ledger().as_dict()
    assert report["ok"] is True and report["sealed"] == latest["tree_size"]


# --- instrument catalog ------------------------------------------------------------------------------

def test_asset_catalog_filters(w):
    r = w.c_ent.get("/api/v1/assets?right_type=emission").json()
    assert [a["code"] for a in r["results"]] == ["EM-SO2-2026-350121"]
    assert r["results"][0]["scale"] == 3 and r["results"][0]["expired"] is False
    assert [a["code"] for a in w.c_ent.get("/api/v1/assets?subtype=quantity").json()["results"]] == [w.farm.code]
    assert w.c_ent.get("/api/v1/assets?vintage=2026&origin_region=350121").json()["count"] == 3
    assert w.c_ent.get("/api/v1/assets?origin_region=350205").json()["count"] == 0


ASSET = {"code": "EM-NOX-2026-350121", "right_type": "emission", "subtype": "NOx", "unit": "t", "scale": 3,
         "vintage": 2026, "origin_region": "350121", "valid_from": "2026-01-01", "valid_to": "2030-12-31",
         "name_zh": "闽侯县氮氧化物排污权（2026）"}


def test_asset_create_permissions_and_jurisdiction(w, make_org, make_member, client_for):
    r = w.c_county.post("/api/v1/assets", ASSET, format="json")
    assert r.status_code == 201 and r.json()["issuer"] == w.county.id
    refused(w.c_county.post("/api/v1/assets", ASSET, format="json"), 409, "asset_exists")
    fuqing = client_for(make_member(make_org("county_government", "350181"), "admin"))
    refused(fuqing.post("/api/v1/assets", {**ASSET, "code": "X1"}, format="json"), 403, "issuer_out_of_jurisdiction")
    refused(w.c_ent.post("/api/v1/assets", {**ASSET, "code": "X2"}, format="json"), 403, "permission_denied")
    refused(w.c_op.post("/api/v1/assets", {**ASSET, "code": "X3"}, format="json"), 400, "validation_error")
    r = w.c_op.post("/api/v1/assets", {**ASSET, "code": "X4", "issuer": w.county.id}, format="json")
    assert r.status_code == 201
    refused(w.c_county.post("/api/v1/assets", {**ASSET, "code": "X5", "issuer": w.fz_reg.id}, format="json"), 400,
            "validation_error")
    refused(w.c_county.post("/api/v1/assets", {**ASSET, "code": "X6", "origin_region": "999999"}, format="json"),
            400, "unknown_region")
    refused(w.c_county.post("/api/v1/assets", {**ASSET, "code": "X7", "right_type": "water", "unit": "m3"},
                            format="json"), 400, "basin_required")
    refused(w.c_county.post("/api/v1/assets", {**ASSET, "code": "X8", "colour": "red"}, format="json"), 400,
            "unknown_field")


# --- cash --------------------------------------------------------------------------------------------

def test_deposit_replay_and_conflict(w):
    body = {"organization": w.ent2.id, "amount": "2500000.50", "bank_reference": "ICBC-20260301-01"}
    r1 = post(w.c_op, "cash/deposits", body, key="dep-1")
    assert r1.status_code == 201, r1.content
    assert {p["amount"] for p in r1.json()["postings"]} == {"2500000.50", "-2500000.50"}
    state = ledger_state()
    r2 = post(w.c_op, "cash/deposits", body, key="dep-1")
    assert r2.status_code == 200 and r2.json() == r1.json() and r2["Idempotent-Replayed"] == "true"
    assert ledger_state() == state
    conflict = refused(post(w.c_op, "cash/deposits", {**body, "amount": "2500000.51"}, key="dep-1"), 409,
                       "idempotency_conflict")
    assert "amount" in conflict["message"]
    conflict = refused(post(w.c_op, "cash/deposits", {**body, "bank_reference": "other"}, key="dep-1"), 409,
                       "idempotency_conflict")
    assert "bank_reference" in conflict["message"]
    assert ledger_state() == state


@pytest.mark.parametrize("amount, expected_code", [
    ("1.001", "too_many_decimals"), ("0", "invalid_amount"), ("0.00", "invalid_amount"), ("-5", "invalid_amount"),
    (1.5, "invalid_number"), ("abc", "invalid_number"), ("NaN", "invalid_number"),
])
def test_deposit_bad_amounts(w, amount, expected_code):
    state = ledger_state()
    refused(post(w.c_op, "cash/deposits", {"organization": w.ent.id, "amount": amount, "bank_reference": "B"}),
            400, expected_code)
    assert ledger_state() == state


def test_cash_endpoints_are_the_operators(w):
    body = {"organization": w.ent.id, "amount": "1.00", "bank_reference": "B"}
    state = ledger_state()
    refused(post(w.c_ent, "cash/deposits", body), 403, "permission_denied")
    refused(post(w.c_fz, "cash/withdrawals", body), 403, "permission_denied")
    refused(post(w.c_op, "cash/deposits", body, key=None), 400, "idempotency_key_required")
    refused(post(w.c_op, "cash/deposits", body, key="bad key with spaces"), 400, "validation_error")
    refused(post(w.c_op, "cash/deposits", {**body, "organization": 999999999}), 400, "validation_error")
    assert ledger_state() == state


def test_withdrawal(w):
    r = post(w.c_op, "cash/withdrawals", {"organization": w.ent.id, "amount": "4000", "bank_reference": "W1"})
    assert r.status_code == 201
    state = ledger_state()
    refused(post(w.c_op, "cash/withdrawals", {"organization": w.ent.id, "amount": "6000.01", "bank_reference": "W2"},
                 key="k2"), 400, "insufficient_balance")
    assert ledger_state() == state
    assert Account.objects.get(organization=w.ent, asset__code="CNY").available == 600_000


# --- issuance ----------------------------------------------------------------------------------------

def test_issuance_by_a_government_body(w):
    r = post(w.c_county, "issuances", {"asset": w.so2.code, "recipient": w.ent2.id, "amount": "12.345"})
    assert r.status_code == 201, r.content
    assert Account.objects.get(organization=w.ent2, asset=w.so2).available == 12_345
    r = post(w.c_county, "issuances", {"asset": w.water.code, "recipient": w.ent.id, "amount": "2190000"}, key="k2")
    assert r.status_code == 201


@pytest.mark.parametrize("data, status, expected_code", [
    ({"asset": "NOPE", "amount": "1"}, 400, "unknown_asset"),
    ({"amount": "1.0001"}, 400, "too_many_decimals"),
    ({"asset": "W-MJ-2026-350121", "amount": "1.5"}, 400, "too_many_decimals"),
    ({"amount": "0"}, 400, "invalid_amount"),
    ({"amount": "-1"}, 400, "invalid_amount"),
    ({"asset": "CNY", "amount": "1"}, 400, "not_a_right"),
    ({"asset": "FL-QTY-2026-350121", "amount": "1"}, 400, "evidence_required"),
])
def test_issuance_bad_input(w, data, status, expected_code):
    state = ledger_state()
    body = {"asset": w.so2.code, "recipient": w.ent.id, **data}
    refused(post(w.c_county, "issuances", body), status, expected_code)
    assert ledger_state() == state


def test_issuance_jurisdiction_roles_and_farmland_evidence(w, make_org, make_member, client_for):
    state = ledger_state()
    fuqing = client_for(make_member(make_org("county_government", "350181"), "trader"))
    body = {"asset": w.so2.code, "recipient": w.ent.id, "amount": "1"}
    refused(post(fuqing, "issuances", body), 403, "issuer_out_of_jurisdiction")
    refused(post(w.c_ent, "issuances", body), 403, "permission_denied")
    refused(post(w.c_op, "issuances", body), 400, "validation_error")  # the operator must name the issuer
    assert ledger_state() == state
    assert post(w.c_op, "issuances", {**body, "issuer": w.county.id}).status_code == 201
    evidence = {"project_id": "MH-TD-2025-031", "area_mu": "120.50", "acceptance_document": "闽侯自然资验〔2025〕31号"}
    r = post(w.c_county, "issuances", {"asset": w.farm.code, "recipient": w.county.id, "amount": "120.50",
                                       "evidence": evidence}, key="farm")
    assert r.status_code == 201 and r.json()["memo"]["evidence"] == evidence
    refused(post(w.c_county, "issuances", {"asset": w.farm.code, "recipient": w.county.id, "amount": "1",
                                           "evidence": {**evidence, "area_mu": "-3"}}, key="farm2"), 400,
            "invalid_amount")


def test_expired_rights(w, monkeypatch):
    monkeypatch.setattr(services, "today", lambda: date(2031, 1, 1))
    state = ledger_state()
    refused(post(w.c_county, "issuances", {"asset": w.so2.code, "recipient": w.ent.id, "amount": "1"}), 400,
            "asset_expired")
    refused(post(w.c_op, "transfers", {"asset": w.so2.code, "sender": w.ent.id, "recipient": w.ent2.id,
                                       "amount": "1"}), 400, "asset_expired")
    assert ledger_state() == state
    assert w.c_ent.get("/api/v1/assets?right_type=emission").json()["results"][0]["expired"] is True
    # retiring is still possible, and the authority expires the rest
    assert post(w.c_ent, "retirements", {"asset": w.so2.code, "amount": "10", "reason": "2030 surrender",
                                         "compliance_period": "2030"}).status_code == 201
    refused(post(w.c_ent, "expirations", {"asset": w.so2.code, "organization": w.ent.id}), 403, "permission_denied")
    r = post(w.c_county, "expirations", {"asset": w.so2.code, "organization": w.ent.id}, key="e1")
    assert r.status_code == 201 and r.json()["memo"]["amount"] == 90_000
    assert post(w.c_county, "expirations", {"asset": w.so2.code, "organization": w.ent.id}, key="e1").status_code \
        == 200
    refused(post(w.c_county, "expirations", {"asset": w.so2.code, "organization": w.ent.id}, key="e2"), 409,
            "nothing_to_expire")


def test_expiring_an_unexpired_right_is_refused(w):
    refused(post(w.c_county, "expirations", {"asset": w.so2.code, "organization": w.ent.id}), 400,
            "asset_not_expired")


# --- transfers and retirements -----------------------------------------------------------------------

def test_transfers_are_operator_only(w):
    body = {"asset": w.so2.code, "sender": w.ent.id, "recipient": w.ent2.id, "amount": "30", "reason": "ruling"}
    state = ledger_state()
    refused(post(w.c_ent, "transfers", body), 403, "permission_denied")
    refused(post(w.c_op, "transfers", {**body, "amount": "100.001"}), 400, "insufficient_balance")
    refused(post(w.c_op, "transfers", {**body, "recipient": w.ent.id}), 400, "same_organization")
    assert ledger_state() == state
    r = post(w.c_op, "transfers", body, key="t1")
    assert r.status_code == 201
    conflict = refused(post(w.c_op, "transfers", {**body, "recipient": w.county.id}, key="t1"), 409,
                       "idempotency_conflict")
    assert "recipient" in conflict["message"]
    assert Account.objects.get(organization=w.ent2, asset=w.so2).available == 30_000


def test_retirements(w):
    body = {"asset": w.so2.code, "amount": "25.5", "reason": "2026 annual compliance", "compliance_period": "2026"}
    state = ledger_state()
    refused(post(w.c_ent, "retirements", {**body, "organization": w.ent2.id}), 400, "validation_error")
    refused(post(w.c_ent, "retirements", {**body, "amount": "100.001"}), 400, "insufficient_balance")
    refused(post(w.c_ent_viewer, "retirements", body), 403, "permission_denied")
    refused(post(w.c_ent, "retirements", {k: v for k, v in body.items() if k != "reason"}), 400, "validation_error")
    assert ledger_state() == state
    r = post(w.c_ent, "retirements", body)
    assert r.status_code == 201 and r.json()["memo"]["compliance_period"] == "2026"
    assert post(w.c_op, "retirements", {**body, "organization": w.ent.id}, key="op").status_code == 201
    assert Account.objects.get(organization=w.ent, asset=w.so2).available == 100_000 - 2 * 25_500


def test_suspended_organization_cannot_move_value(w):
    w.ent.status = "suspended"
    w.ent.save()
    refused(post(w.c_ent, "retirements", {"asset": w.so2.code, "amount": "1", "reason": "r",
                                          "compliance_period": "2026"}), 403, "organization_suspended")
    assert w.c_ent.get("/api/v1/holdings").status_code == 200  # reading stays possible


# --- exports -----------------------------------------------------------------------------------------

def _content(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode("utf-8-sig")  # CSV starts with a BOM


def test_csv_export(w):
    services.rights_transfer(actor=Actor.system(), asset=w.so2, sender=w.ent, recipient=w.ent2, amount=1_500,
                             idempotency_key="x")
    r = w.c_op.get("/api/v1/exports/journal.csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(_content(r))))
    assert len(rows) == 6 and rows[0]["kind"] == "issue"
    assert {row["amount"] for row in rows if row["kind"] == "transfer"} == {"-1.500", "1.500"}
    assert {row["amount"] for row in rows if row["kind"] == "deposit"} == {"-10000.00", "10000.00"}
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    assert len(list(csv.reader(io.StringIO(_content(w.c_op.get("/api/v1/exports/journal.csv",
                                                                {"from": future})))))) == 1  # header only
    assert len(list(csv.DictReader(io.StringIO(_content(w.c_op.get("/api/v1/exports/journal.csv",
                                                                   {"from": past, "to": future})))))) == 6
    refused(w.c_op.get("/api/v1/exports/journal.csv", {"from": "yesterday"}), 400, "validation_error")
    # a client asking for CSV explicitly is served too
    assert w.c_op.get("/api/v1/exports/journal.csv", HTTP_ACCEPT="text/csv").status_code == 200


def test_jsonl_export_and_regulator_scope(w):
    t = services.rights_transfer(actor=Actor.system(), asset=w.so2, sender=w.ent, recipient=w.ent2, amount=1_500,
                                 idempotency_key="x").transaction_id
    r = w.c_op.get("/api/v1/exports/journal.jsonl")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/x-ndjson")
    docs = [json.loads(line) for line in _content(r).splitlines()]
    assert [d["id"] for d in docs] == [w.issued, w.deposited, t]
    assert docs[2]["postings"][0]["amount"] in ("-1.500", "1.500") and docs[2]["leaf_index"] is None
    assert docs[0]["memo"]["issuer"] == w.county.id
    # Xiamen's regulator sees only what touches Xiamen; Fuzhou's all three (Minhou)
    xm = [json.loads(line)["id"] for line in _content(w.c_xm.get("/api/v1/exports/journal.jsonl")).splitlines()]
    assert xm == [t]
    fz = [json.loads(line)["id"] for line in _content(w.c_fz.get("/api/v1/exports/journal.jsonl")).splitlines()]
    assert fz == [w.issued, w.deposited, t]
    refused(w.c_ent.get("/api/v1/exports/journal.jsonl"), 403, "permission_denied")
    refused(w.c_county.get("/api/v1/exports/journal.csv"), 403, "permission_denied")


def test_schema_has_the_ledger_endpoints(client):
    schema = client.get("/api/schema/?format=json").json()
    for path in ("/api/v1/holdings", "/api/v1/statements", "/api/v1/transactions/{id}", "/api/v1/checkpoints",
                 "/api/v1/checkpoints/consistency", "/api/v1/ledger/verifications", "/api/v1/assets",
                 "/api/v1/cash/deposits", "/api/v1/cash/withdrawals", "/api/v1/issuances", "/api/v1/transfers",
                 "/api/v1/retirements", "/api/v1/expirations", "/api/v1/exports/journal.csv",
                 "/api/v1/exports/journal.jsonl"):
        assert path in schema["paths"], path
    params = {p["name"] for p in schema["paths"]["/api/v1/cash/deposits"]["post"]["parameters"]}
    assert "Idempotency-Key" in params


def test_conflict_names_the_field_in_the_envelope(w):
    body = {"organization": w.ent2.id, "amount": "1.00", "bank_reference": "B"}
    assert post(w.c_op, "cash/deposits", body, key="c").status_code == 201
    conflict = refused(post(w.c_op, "cash/deposits", {**body, "organization": w.ent.id}, key="c"), 409,
                       "idempotency_conflict")
    assert list(conflict["fields"]) == ["organization"]


def test_admin_is_read_only(w, client, django_user_model):
    admin_user = django_user_model.objects.create_superuser("ledger-admin", password="x-Admin-Pass-2026")
    client.force_login(admin_user)
    for name in ("asset", "account", "ledgertransaction", "checkpoint", "righttype"):
        assert client.get(f"/admin/ledger/{name}/").status_code == 200, name
        assert client.get(f"/admin/ledger/{name}/add/").status_code == 403, name
    assert client.get(f"/admin/ledger/ledgertransaction/{w.issued}/change/").status_code == 200
    assert client.post(f"/admin/ledger/ledgertransaction/{w.issued}/delete/").status_code == 403
