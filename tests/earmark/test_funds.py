"""Earmarked funds per purpose (issue #17): each fund is its own ledger account; receipts go into the fund
their kind feeds; a payout names its fund and one of that fund's purposes and spends only that fund;
the report, the holdings and the API show each fund; the database refuses unknown account kinds and
sharded funds; the ledger verifies."""
from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from core.checks import CHECKS
from core.errors import DomainError, message_for
from ledger.earmark import FUNDS, earmarked_payout, earmarked_receipt, earmarked_report
from ledger.models import Account, LedgerTransaction
from ledger.services import cny

from .conftest import cash, fund_balance, receive
from tests.support.celery import assert_ledger_verifies

pytestmark = pytest.mark.django_db


def _payout(w, fund, amount, purpose, key):
    return earmarked_payout(actor=w.county_actor, organization=w.county, amount=amount, purpose_code=purpose,
                            idempotency_key=key, description="项目款", fund=fund)


def test_each_receipt_lands_in_its_own_fund(world):
    receive(world, "farmland", 500_00)
    receive(world, "basin_compensation", 300_00, "water_pollution_control")
    receive(world, "paired_assistance", 200_00, "infrastructure")
    assert {f: fund_balance(world.county, f) for f in FUNDS} == {
        "farmland": 500_00, "basin_compensation": 300_00, "paired_assistance": 200_00}
    kinds = set(Account.objects.filter(organization=world.county).values_list("kind", flat=True))
    assert kinds == {"earmarked", "earmarked_basin", "earmarked_assistance"}
    memo = LedgerTransaction.objects.filter(kind="assistance_payment").get().memo
    assert (memo["fund"], memo["purpose_code"]) == ("paired_assistance", "infrastructure")
    assert_ledger_verifies()


def test_a_receipt_for_another_funds_purpose_is_refused_and_writes_nothing(world):
    before = LedgerTransaction.objects.count()
    with pytest.raises(DomainError) as exc:
        receive(world, "basin_compensation", 100_00, "infrastructure")  # an assistance purpose
    assert exc.value.code == "purpose_not_of_fund"
    with pytest.raises(DomainError) as exc:
        earmarked_receipt(actor=world.county_actor, kind="compensation_hold", payer=world.city, payee=world.county,
                          amount=1, purpose_code="water_pollution_control", idempotency_key="x", request={})
    assert exc.value.code == "not_a_receipt_kind"
    assert LedgerTransaction.objects.count() == before


@pytest.mark.parametrize("fund_code, purpose", [("farmland", "water_pollution_control"),
                                           ("basin_compensation", "farmland_protection"),
                                           ("paired_assistance", "ecological_protection"),
                                           ("basin_compensation", "infrastructure")])
def test_a_payout_takes_only_its_funds_purposes(world, fund_code, purpose):
    for f in FUNDS:
        receive(world, f, 1_000_00)
    with pytest.raises(DomainError) as exc:
        _payout(world, fund_code, 10_00, purpose, "p1")
    assert exc.value.code == "purpose_not_of_fund" and "purpose_code" in exc.value.fields
    assert {f: fund_balance(world.county, f) for f in FUNDS} == dict.fromkeys(FUNDS, 1_000_00)


def test_a_payout_cannot_spend_another_funds_money(world):
    receive(world, "farmland", 5_000_00)
    receive(world, "basin_compensation", 100_00, "ecological_protection")
    with pytest.raises(DomainError) as exc:  # the basin fund has 100, the farmland fund 5,000
        _payout(world, "basin_compensation", 200_00, "ecological_protection", "p1")
    assert exc.value.code == "insufficient_balance"
    assert (fund_balance(world.county, "farmland"), fund_balance(world.county, "basin_compensation")) == (
        5_000_00, 100_00)
    posted = _payout(world, "basin_compensation", 100_00, "ecological_protection", "p2")
    txn = LedgerTransaction.objects.get(pk=posted.transaction_id)
    assert txn.memo["fund"] == "basin_compensation" and txn.request["fund"] == "basin_compensation"
    assert (fund_balance(world.county, "farmland"), fund_balance(world.county, "basin_compensation")) == (
        5_000_00, 0)
    assert_ledger_verifies()


def test_unknown_fund_and_default_fund(world):
    receive(world, "farmland", 100_00)
    with pytest.raises(DomainError) as exc:
        _payout(world, "wetland", 1, "farmland_protection", "p1")
    assert exc.value.code == "unknown_fund"
    # no fund named: the farmland fund, as before the split (and the request stored as before)
    posted = earmarked_payout(actor=world.county_actor, organization=world.county, amount=40_00,
                              purpose_code="farmland_protection", idempotency_key="p2", description="d")
    assert "fund" not in LedgerTransaction.objects.get(pk=posted.transaction_id).request
    assert fund_balance(world.county, "farmland") == 60_00


def test_report_has_a_row_per_body_and_fund(world):
    receive(world, "farmland", 500_00)
    receive(world, "basin_compensation", 300_00, "water_pollution_control")
    receive(world, "paired_assistance", 200_00, "public_services")
    _payout(world, "basin_compensation", 120_00, "water_pollution_control", "p1")
    _payout(world, "paired_assistance", 50_00, "public_services", "p2")
    rows = {r["fund"]: r for r in earmarked_report() if r["organization"] == world.county.id}
    assert list(rows) == ["farmland", "basin_compensation", "paired_assistance"]
    got = {f: (r["received"], r["sales"], r["receipts"], r["paid_out"], r["by_purpose"], r["balance"])
           for f, r in rows.items()}
    assert got == {"farmland": (500_00, 1, 0, 0, {}, 500_00),
                   "basin_compensation": (300_00, 0, 1, 120_00, {"water_pollution_control": 120_00}, 180_00),
                   "paired_assistance": (200_00, 0, 1, 50_00, {"public_services": 50_00}, 150_00)}
    assert [r["fund"] for r in earmarked_report(fund="paired_assistance")] == ["paired_assistance"]


def test_api_payout_report_and_holdings_per_fund(world, client_for):
    receive(world, "basin_compensation", 300_00, "water_pollution_control")
    admin = client_for(world.county_admin)
    body = {"amount": "100.00", "fund": "basin_compensation", "purpose_code": "water_pollution_control",
            "description": "污水处理厂提标"}
    r = admin.post("/api/v1/settlement/earmarked-payouts", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 201 and r.json()["fund"] == "basin_compensation", r.json()
    bad = admin.post("/api/v1/settlement/earmarked-payouts", {**body, "purpose_code": "farmland_protection"},
                     format="json", HTTP_IDEMPOTENCY_KEY="k2", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert bad.status_code == 400 and bad.json()["code"] == "purpose_not_of_fund"
    assert "不属于" in bad.json()["message"]
    en = admin.post("/api/v1/settlement/earmarked-payouts", {**body, "fund": "nope"}, format="json",
                    HTTP_IDEMPOTENCY_KEY="k3", HTTP_ACCEPT_LANGUAGE="en")
    assert en.status_code == 400 and en.json()["code"] == "unknown_fund" and "Unknown" in en.json()["message"]
    rows = admin.get("/api/v1/settlement/earmarked-report?fund=basin_compensation").json()
    assert [(r["fund"], r["received"], r["paid_out"], r["balance"]) for r in rows] == [
        ("basin_compensation", "300.00", "100.00", "200.00")]
    assert admin.get("/api/v1/settlement/earmarked-report?fund=nope").json()["code"] == "unknown_fund"
    holdings = {h["fund"]: h["available"] for h in admin.get("/api/v1/holdings").json() if h["fund"]}
    assert holdings == {"farmland": "0.00", "basin_compensation": "200.00", "paired_assistance": "0.00"}


def test_messages_and_check_numbers_are_registered():
    for number, code in (("A-FUND-001", "unknown_fund"), ("A-FUND-002", "purpose_not_of_fund"),
                         ("A-FUND-003", "not_an_earmark_holder"), ("A-FUND-004", "not_a_receipt_kind"),
                         ("A-PURPOSE-001", "invalid_purpose_code")):
        assert CHECKS[number].code == code
    assert FUNDS["basin_compensation"].purposes == ("water_pollution_control", "ecological_protection")
    assert "farmland_protection" not in FUNDS["paired_assistance"].purposes
    assert message_for("purpose_not_of_fund", fund="X")


def test_the_database_refuses_unknown_kinds_and_sharded_funds(world):
    c = cny()
    for kind, shard, rule in (("earmarked_wetland", 0, "account_kind_known"),
                              ("earmarked_basin", 1, "earmarked_unsharded")):
        with pytest.raises(IntegrityError) as exc, transaction.atomic(), connection.cursor() as cur:
            cur.execute(f"INSERT INTO {Account._meta.db_table} (organization_id, asset_id, kind, shard, available, "
                        "held, created_at) VALUES (%s, %s, %s, %s, 0, 0, now())", [world.county.id, c.id, kind, shard])
        assert rule in str(exc.value)
    receive(world, "basin_compensation", 1_00, "ecological_protection")
    fund = Account.objects.get(organization=world.county, kind="earmarked_basin")
    for change, rule in (("shard = 1", "earmarked_unsharded"), ("kind = 'wetland'", "account_kind_known")):
        with pytest.raises(IntegrityError) as exc, transaction.atomic(), connection.cursor() as cur:
            cur.execute(f"UPDATE {Account._meta.db_table} SET {change} WHERE id = %s", [fund.id])
        assert rule in str(exc.value)


def test_a_government_body_only(world):
    ent = world.make_org("enterprise", "350121")
    with pytest.raises(DomainError) as exc:
        earmarked_receipt(actor=world.county_actor, kind="assistance_payment", payer=world.city, payee=ent,
                          amount=1, purpose_code="infrastructure", idempotency_key="x", request={})
    assert exc.value.code == "not_an_earmark_holder"
    assert cash(world.city) == 10_000_000_00


def test_the_per_fund_export(world, client_for):
    import csv
    import io
    import json

    receive(world, "farmland", 500_00)
    receive(world, "paired_assistance", 200_00, "public_services")
    _payout(world, "paired_assistance", 50_00, "public_services", "p1")
    admin = client_for(world.county_admin)
    r = admin.get("/api/v1/settlement/exports/earmarked-funds", {"lang": "zh"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    text = b"".join(r.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(x["专项资金"], x["资金名称"], x["收入（元）"], x["支出（元）"], x["余额（元）"]) for x in rows] == [
        ("farmland", "耕地保护专项资金", "500.00", "0.00", "500.00"),
        ("paired_assistance", "对口帮扶资金", "200.00", "50.00", "150.00")]
    lines = b"".join(admin.get("/api/v1/settlement/exports/earmarked-funds",
                               {"fmt": "jsonl", "fund": "paired_assistance", "lang": "en"}).streaming_content)
    [row] = [json.loads(x) for x in lines.decode().splitlines() if x]
    assert (row["fund"], row["fund_name"], row["by_purpose"]) == (
        "paired_assistance", "Paired-assistance fund", {"public_services": "50.00"})
    xlsx = admin.get("/api/v1/settlement/exports/earmarked-funds", {"fmt": "xlsx"})
    assert xlsx.status_code == 200 and b"".join(xlsx.streaming_content)[:2] == b"PK"
    assert admin.get("/api/v1/settlement/exports/earmarked-funds", {"fmt": "pdf"}).json()["code"] == \
        "validation_error"
    far = client_for(world.make_member(world.make_org("regulator", "350200", jurisdiction="350200"), "viewer"))
    assert b"".join(far.get("/api/v1/settlement/exports/earmarked-funds").streaming_content).decode(
        "utf-8-sig").strip().count("\n") == 0  # the header only: nothing in Xiamen's jurisdiction
