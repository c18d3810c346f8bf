"""The journal export opens safely and legibly in a spreadsheet (#14 item 14, #16 item 9): a bank
reference `=cmd|…` is neutralised while negative amounts stay numbers, UTF-8 with a BOM, headers by
language, organization and asset names beside ids, Asia/Shanghai times, the same rows as .xlsx."""
from __future__ import annotations

import codecs
import csv
import io
from datetime import datetime
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from openpyxl import load_workbook

from accounts.actor import Actor
from ledger.models import LedgerTransaction
from ledger.services import cash_deposit, cash_withdraw

CMD = "=cmd|' /C calc'!A0"


def body(response) -> bytes:
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def csv_rows(raw: bytes) -> list[list[str]]:
    assert raw.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


@pytest.fixture
def journal(make_org, make_member, client_for):
    enterprise = make_org("enterprise", "350121", name="闽江热电")
    enterprise.name_en = "Minjiang Power"
    enterprise.save(update_fields=["name_en"])
    operator = make_org("exchange_operator", "350000", name="海峡资源环境交易中心")
    cash_deposit(actor=Actor.system(), organization=enterprise, amount=1_000_000, bank_reference=CMD,
                 idempotency_key="dep-1")
    cash_withdraw(actor=Actor.system(), organization=enterprise, amount=62_050, bank_reference="+86-wd",
                  idempotency_key="wd-1")
    return enterprise, client_for(make_member(operator, "admin"))


@pytest.mark.django_db
def test_bank_reference_is_neutralised_and_amounts_stay_numbers(journal):
    enterprise, client = journal
    rows = csv_rows(body(client.get("/api/v1/exports/journal.csv", {"lang": "en"})))
    table = [dict(zip(rows[0], r)) for r in rows[1:]]
    deposit = [r for r in table if r["kind"] == "deposit"]
    assert {r["reference_id"] for r in deposit} == {"'" + CMD}
    withdrawal = [r for r in table if r["kind"] == "withdraw"]
    assert {r["reference_id"] for r in withdrawal} == {"'+86-wd"}
    assert sorted(r["amount"] for r in withdrawal) == ["-620.50", "620.50"]  # strict decimals: numbers
    mine = [r for r in table if r["organization_id"] == str(enterprise.id)]
    assert {r["organization_name"] for r in mine} == {"Minjiang Power"}
    assert {r["asset"] for r in mine} == {"CNY"} and all(r["asset_name"] for r in mine)


@pytest.mark.django_db
def test_headers_by_language_bom_and_shanghai_times(journal):
    enterprise, client = journal
    zh = csv_rows(body(client.get("/api/v1/exports/journal.csv", HTTP_ACCEPT_LANGUAGE="zh-CN")))
    en = csv_rows(body(client.get("/api/v1/exports/journal.csv", HTTP_ACCEPT_LANGUAGE="en")))
    assert zh[0][:3] == ["交易编号", "记账时间", "类型"] and "机构名称" in zh[0] and "金额" in zh[0]
    assert en[0][:3] == ["transaction_id", "created_at", "kind"] and "organization_name" in en[0]
    row = dict(zip(zh[0], zh[1]))
    txn = LedgerTransaction.objects.get(pk=int(row["交易编号"]))
    assert row["记账时间"].endswith("+08:00") and datetime.fromisoformat(row["记账时间"]) == txn.created_at
    names = {dict(zip(zh[0], r))["机构名称"] for r in zh[1:]}
    assert "闽江热电" in names


@pytest.mark.django_db
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_xlsx_has_the_same_rows_as_the_csv(journal, lang):
    _, client = journal
    table = csv_rows(body(client.get("/api/v1/exports/journal.csv", {"lang": lang})))
    r = client.get("/api/v1/exports/journal.xlsx", {"lang": lang})
    assert r["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(body(r)), read_only=True).worksheets[0]
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert len(cells) == len(table) > 4
    amount = table[0].index("金额" if lang == "zh" else "amount")
    for csv_row, xlsx_row in zip(table, cells):
        xlsx_row += [None] * (len(csv_row) - len(xlsx_row))
        assert [("" if v is None else str(v)) for i, v in enumerate(xlsx_row) if i != amount] == \
               [v for i, v in enumerate(csv_row) if i != amount]
    # amounts are numbers in the workbook (equal to the CSV's decimal strings)
    assert all(isinstance(row[amount], (int, float)) for row in cells[1:])
    assert [Decimal(str(row[amount])) for row in cells[1:]] == [Decimal(row[amount]) for row in table[1:]]
