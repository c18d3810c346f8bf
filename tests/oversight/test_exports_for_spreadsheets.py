"""The regulators' trade and audit exports open safely and legibly in a spreadsheet (#14 item 14, #16
item 9): formulas neutralised (OWASP), CSV in UTF-8 with a BOM, headers by language (`?lang=` or
Accept-Language), names beside ids, Asia/Shanghai times, the same rows as a streamed .xlsx, and the
export never materialises its queryset."""
from __future__ import annotations

import codecs
import csv
import io
from datetime import datetime
from decimal import Decimal

import pytest
from django.db.models.query import QuerySet
from django.http import StreamingHttpResponse
from openpyxl import load_workbook

from accounts.actor import Actor
from accounts.audit import audit_record
from core.tabular import neutralise
from ledger.models import Asset
from trading.models import Trade
from trading.orderbook.services import order_place

SYSTEM = Actor.system()
HYPERLINK = '=HYPERLINK("http://e.vil","x")'
CMD = "=cmd|' /C calc'!A0"


def body(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse), type(response)
    return b"".join(response.streaming_content)


def csv_rows(raw: bytes) -> list[list[str]]:
    assert raw.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def xlsx_rows(raw: bytes) -> list[list[str]]:
    workbook = load_workbook(io.BytesIO(raw), read_only=True)
    [sheet] = workbook.worksheets
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    width = len(rows[0])
    return [row + [""] * (width - len(row)) for row in rows]  # trailing empty cells are not stored


def same_cells(csv_table, xlsx_table):
    """Cell by cell; numbers compare as decimals (the .xlsx stores amounts as numbers)."""
    assert len(csv_table) == len(xlsx_table)
    for a_row, b_row in zip(csv_table, xlsx_table):
        assert len(a_row) == len(b_row)
        for a, b in zip(a_row, b_row):
            if a != b:
                assert Decimal(a) == Decimal(b), (a, b)


@pytest.fixture
def exported(make_org, make_market, fund, make_member, client_for, operator_org):
    market = make_market(region="350121")
    Asset.objects.filter(pk=market.asset_id).update(subtype=HYPERLINK)
    buyer = make_org("enterprise", "350102", name="闽江热电")
    seller = make_org("enterprise", "350203", name="@SUM(1+1)")
    fund(buyer, cny=100_000_000)
    fund(seller, market=market, quantity=100_000)
    order_place(actor=SYSTEM, organization=seller, market_id=market.id, side="sell", price=10_050, quantity=2_000)
    [trade] = order_place(actor=SYSTEM, organization=buyer, market_id=market.id, side="buy", price=10_050,
                          quantity=2_000).trades
    Trade.objects.filter(pk=trade.pk).update(failure_reason=CMD)
    audit_record(actor=SYSTEM, action="+1", object_type="\t=1", object_id="-2+3+cmd|' /C calc'!A0",
                 region_codes=["350102"])
    return {"trade": trade, "buyer": buyer, "seller": seller, "market": market,
            "client": client_for(make_member(operator_org, "admin"))}


@pytest.mark.parametrize("raw, shown", [
    (HYPERLINK, "'" + HYPERLINK), (CMD, "'" + CMD), ("@SUM(A1:A9)", "'@SUM(A1:A9)"), ("+1", "'+1"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"), ("-1e3", "'-1e3"),
    ("- 5", "'- 5"), ("-620.50", "-620.50"), ("-3", "-3"), ("620.50", "620.50"), ("闽江热电", "闽江热电"),
    ("a=b", "a=b"), ("", "")])
def test_neutralise(raw, shown):
    assert neutralise(raw) == shown


@pytest.mark.django_db
def test_trade_export_neutralises_formulas(exported):
    rows = csv_rows(body(exported["client"].get("/api/v1/oversight/exports/trades.csv", {"lang": "en"})))
    [row] = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert row["subtype"] == "'" + HYPERLINK
    assert row["failure_reason"] == "'" + CMD
    assert row["seller_name"] == "'@SUM(1+1)"
    assert row["price"] == "100.50" and row["value"] == "201.00"
    every_cell = [cell for r in rows for cell in r]
    assert not [c for c in every_cell if c[:1] in ("=", "+", "@", "\t", "\r")]
    assert not [c for c in every_cell if c.startswith("-") and not c[1:].replace(".", "", 1).isdigit()]


@pytest.mark.django_db
def test_audit_export_neutralises_formulas(exported):
    rows = csv_rows(body(exported["client"].get("/api/v1/oversight/exports/audit.csv", {"lang": "en",
                                                                                         "action": "+1"})))
    [row] = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert (row["action"], row["object_type"], row["object_id"]) == ("'+1", "'\t=1", "'-2+3+cmd|' /C calc'!A0")
    xlsx = xlsx_rows(body(exported["client"].get("/api/v1/oversight/exports/audit.xlsx", {"lang": "en",
                                                                                            "action": "+1"})))
    assert xlsx[1][2:5] == ["'+1", "'\t=1", "'-2+3+cmd|' /C calc'!A0"]


@pytest.mark.django_db
def test_trade_export_headers_names_times_by_language(exported):
    client, trade = exported["client"], exported["trade"]
    zh = csv_rows(body(client.get("/api/v1/oversight/exports/trades.csv", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")))
    en = csv_rows(body(client.get("/api/v1/oversight/exports/trades.csv", HTTP_ACCEPT_LANGUAGE="en")))
    assert zh[0][:3] == ["成交编号", "成交时间", "结算时间"] and "买方名称" in zh[0] and "卖方地区" in zh[0]
    assert en[0][:3] == ["id", "created_at", "settled_at"] and "buyer_name" in en[0]
    assert csv_rows(body(client.get("/api/v1/oversight/exports/trades.csv", {"lang": "zh"},
                                    HTTP_ACCEPT_LANGUAGE="en")))[0] == zh[0]
    assert csv_rows(body(client.get("/api/v1/oversight/exports/trades.csv", {"lang": "en"},
                                    HTTP_ACCEPT_LANGUAGE="zh")))[0] == en[0]
    assert client.get("/api/v1/oversight/exports/trades.csv", {"lang": "fr"}).status_code == 400

    row = dict(zip(zh[0], zh[1]))
    assert row["买方编号"] == str(exported["buyer"].id) and row["买方名称"] == "闽江热电"
    assert row["买方地区代码"] == "350102" and row["买方地区"] == "鼓楼区"
    assert row["产出地"] == "闽侯县" and row["标的代码"] == exported["market"].asset.code
    assert row["权益类型"] == "排污权" and row["计量单位"] == "t"
    created = datetime.fromisoformat(row["成交时间"])
    assert row["成交时间"].endswith("+08:00") and created == trade.created_at
    en_row = dict(zip(en[0], en[1]))
    assert en_row["buyer_region_name"] == "Gulou District" and en_row["right_type_name"] == "Emission rights"


@pytest.mark.django_db
@pytest.mark.parametrize("what", ["trades", "audit"])
def test_xlsx_has_the_same_rows_as_the_csv(exported, what):
    client = exported["client"]
    for lang in ("zh", "en"):
        r = client.get(f"/api/v1/oversight/exports/{what}.xlsx", {"lang": lang})
        assert r.status_code == 200
        assert r["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        assert r["Content-Disposition"] == f'attachment; filename="{what}.xlsx"'
        same_cells(csv_rows(body(client.get(f"/api/v1/oversight/exports/{what}.csv", {"lang": lang}))),
                   xlsx_rows(body(r)))


@pytest.mark.django_db
def test_export_content_negotiation_accepts_what_it_serves(exported):
    client = exported["client"]
    for path, accept in (("trades.csv", "text/csv"), ("trades.jsonl", "application/x-ndjson"),
                         ("trades.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")):
        assert client.get(f"/api/v1/oversight/exports/{path}", HTTP_ACCEPT=accept).status_code == 200, path


@pytest.mark.django_db
def test_xlsx_export_streams_without_materialising_the_queryset(exported, monkeypatch, make_org, fund):
    """The rows come from `.iterator(chunk_size)` while the response is consumed; no export queryset is
    ever evaluated whole (`_fetch_all`), and nothing is read before the first chunk is asked for."""
    client, market, buyer, seller = exported["client"], exported["market"], exported["buyer"], exported["seller"]
    for _ in range(30):
        order_place(actor=SYSTEM, organization=seller, market_id=market.id, side="sell", price=10_000,
                    quantity=1_000)
        order_place(actor=SYSTEM, organization=buyer, market_id=market.id, side="buy", price=10_000, quantity=1_000)
    iterated, fetched_all = [], []
    real_iterator, real_fetch_all = QuerySet.iterator, QuerySet._fetch_all

    def iterator(self, chunk_size=None):
        iterated.append((self.model.__name__, chunk_size))
        return real_iterator(self, chunk_size=chunk_size)

    def fetch_all(self):
        if self.model is Trade:
            fetched_all.append(self.query)
        return real_fetch_all(self)

    monkeypatch.setattr(QuerySet, "iterator", iterator)
    monkeypatch.setattr(QuerySet, "_fetch_all", fetch_all)
    r = client.get("/api/v1/oversight/exports/trades.xlsx", {"lang": "en"})
    assert isinstance(r, StreamingHttpResponse) and r.streaming
    assert iterated == []  # the view returned before reading a row
    rows = xlsx_rows(b"".join(r.streaming_content))
    assert len(rows) == 1 + 31
    assert iterated == [("Trade", 2000)] and fetched_all == []


def test_xlsx_continues_on_a_new_sheet_at_the_row_limit(monkeypatch):
    from core import tabular

    monkeypatch.setattr(tabular, "XLSX_MAX_ROWS", 3)  # Excel's is 1,048,576
    columns = [tabular.Column("n", "序号", "int"), tabular.Column("text", "文本")]
    raw = b"".join(tabular.xlsx_chunks(({"n": i, "text": f"={i}"} for i in range(5)), columns, "zh", "rows"))
    sheets = load_workbook(io.BytesIO(raw), read_only=True).worksheets
    assert [[list(r) for r in s.iter_rows(values_only=True)] for s in sheets] == [
        [["序号", "文本"], [0, "'=0"], [1, "'=1"]], [["序号", "文本"], [2, "'=2"], [3, "'=3"]],
        [["序号", "文本"], [4, "'=4"]]]
