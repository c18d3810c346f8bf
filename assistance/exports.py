"""CSV / .xlsx / JSON-lines exports of paired-assistance progress (per pair and year) and of support
commitments (by trade, with status), through the project's export helpers (`core.tabular`): headers in
the reader's language, amounts as yuan strings, formulas neutralised. Both are bounded by the number of
pairs × years and of commitments (hundreds), so rows are built from small reads."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from core.money import from_minor
from core.tabular import Column, streaming

from .selectors import commitment_status, pair_progress, years_of

PROGRESS_COLUMNS = [
    Column("pair", "结对编号", "int"), Column("year", "年度", "int"), Column("payer", "帮扶方编号", "int"),
    Column("payer_name", "帮扶方"), Column("payer_region", "帮扶方地区代码"), Column("payee", "受援方编号", "int"),
    Column("payee_name", "受援方"), Column("payee_region", "受援方地区代码"),
    Column("agreement_version", "协议版本", "int"), Column("minimum", "年度应付（元）", "amount"),
    Column("paid", "已付（元）", "amount"), Column("shortfall", "差额（元）", "amount"),
    Column("expected_to_date", "按进度应付（元）", "amount"), Column("status", "状态"),
]
COMMITMENT_COLUMNS = [
    Column("id", "承诺编号", "int"), Column("trade", "成交编号", "int"), Column("supporter", "承诺方编号", "int"),
    Column("supporter_name", "承诺方"), Column("beneficiary", "受援方编号", "int"),
    Column("beneficiary_name", "受援方"),
    Column("kind", "帮扶方式"), Column("amount", "承诺金额（元）", "amount"), Column("due_date", "到期日"),
    Column("fulfilled_amount", "已兑现（元）", "amount"), Column("state", "状态"), Column("description", "说明"),
]
MONEY = ("minimum", "paid", "shortfall", "expected_to_date")


def _name(org, lang: str) -> str:
    return org.name_zh if lang == "zh" or not org.name_en else org.name_en


def progress_rows(pairs, *, year: int | None, on: date, lang: str = "en") -> Iterator[dict]:
    for pair in pairs.order_by("id"):
        for y in ([year] if year is not None else years_of(pair, on)):
            row = pair_progress(pair, y, on)
            row["payer_name"], row["payee_name"] = _name(pair.payer, lang), _name(pair.payee, lang)
            yield {**row, **{k: from_minor(row[k], 2) for k in MONEY}}


def commitment_rows(qs, *, on: date, lang: str = "en") -> Iterator[dict]:
    for c in qs.order_by("id"):
        yield {"id": c.id, "trade": c.trade_id, "supporter": c.supporter_id, "supporter_name": _name(c.supporter, lang),
               "beneficiary": c.beneficiary_id, "beneficiary_name": _name(c.beneficiary, lang), "kind": c.kind,
               "amount": from_minor(c.amount, 2), "due_date": c.due_date.isoformat(),
               "fulfilled_amount": from_minor(c.fulfilled_amount, 2), "state": commitment_status(c, on),
               "description": c.description}


__all__ = ["COMMITMENT_COLUMNS", "PROGRESS_COLUMNS", "commitment_rows", "progress_rows", "streaming"]
