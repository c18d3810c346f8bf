"""Tabular exports that a spreadsheet opens safely and legibly: CSV (UTF-8 with BOM) and `.xlsx`
(openpyxl write-only), both streamed in constant memory, with headers in the reader's language, times in
Asia/Shanghai with their offset, and every text cell neutralised against formula injection.

Formula neutralisation (OWASP "CSV injection"): a text cell beginning with `=`, `+`, `-`, `@`, a tab or a
carriage return gets a leading single quote, so Excel/WPS/LibreOffice show it as text instead of running
it (`=HYPERLINK(…)`, `=cmd|' /C calc'!A0`, `@SUM(…)`). One exception, chosen so amounts stay numbers: a
cell that is exactly a strict decimal `-?[0-9]+(\\.[0-9]+)?` (our amount format, e.g. `-620.50`) is left
as it is: a spreadsheet reads it as a number and it cannot carry a formula. Anything else that starts with
`-` (`-2+3+cmd|…`, `-1e3`, `- 5`) is prefixed. The same cells go into the .xlsx, where text is also typed
as a string (never a formula) and amount columns are written as numbers.

Headers: English = the stable snake_case column keys (what scripts read); Chinese = labels. The language
is `?lang=zh|en` if given, else the request's language (Accept-Language through LocaleMiddleware).

Memory: rows arrive from a generator fed by a server-side cursor (`QuerySet.iterator(chunk_size)` or a
named cursor); CSV is yielded in ~64 KiB chunks; the .xlsx writer streams rows into a temporary file
(write-only mode keeps no cells in memory) and the finished file is then sent in 64 KiB chunks. A sheet
holds at most 1,048,576 rows (Excel's limit): further rows continue on a new sheet with the header again.
"""
from __future__ import annotations

import codecs
import csv
import io
import json
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from django.utils import translation
from django.utils.translation import gettext
from rest_framework.renderers import BaseRenderer

from .api import local_times
from .errors import ApiError

SHANGHAI = ZoneInfo("Asia/Shanghai")
DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")
STRICT_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
CHUNK = 64 * 1024
XLSX_MAX_ROWS = 1_048_576
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutralise(text: str) -> str:
    """The OWASP prefix for a text cell that a spreadsheet would evaluate (strict decimals excepted)."""
    if text.startswith(DANGEROUS_START) and not STRICT_DECIMAL.fullmatch(text):
        return "'" + text
    return text


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    kind: str = "text"  # text | int | amount | time | json


def language(request) -> str:
    """'zh' or 'en': `?lang=` first, else the request's negotiated language."""
    raw = (request.query_params.get("lang") or "").strip().lower()
    if raw:
        if raw not in ("zh", "en", "zh-hans"):
            raise ApiError("validation_error", fields={"lang": gettext("zh or en")})
        return "en" if raw == "en" else "zh"
    return "zh" if (getattr(request, "LANGUAGE_CODE", None) or translation.get_language() or "zh").startswith(
        "zh") else "en"


def headers(columns: list[Column], lang: str) -> list[str]:
    return [c.zh if lang == "zh" else c.key for c in columns]


def local_time(value: datetime) -> str:
    return value.astimezone(SHANGHAI).isoformat()


def cell_text(value) -> str:
    """A value as the CSV cell's text (already neutralised)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, (dict, list)):
        value = json.dumps(local_times(value), cls=DjangoJSONEncoder, ensure_ascii=False)
    elif hasattr(value, "isoformat"):
        value = value.isoformat()
    return neutralise(str(value))


def cell_value(value, kind: str = "text"):
    """A value as the .xlsx cell: numbers for ints and strict-decimal amounts, neutralised text otherwise."""
    if value is None:
        return None
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "amount" and isinstance(value, str) and STRICT_DECIMAL.fullmatch(value):
        return Decimal(value)
    return cell_text(value)


def csv_chunks(rows: Iterable[dict], columns: list[Column], lang: str) -> Iterator[bytes]:
    """UTF-8 with a BOM (Excel on Chinese Windows reads UTF-8 only with it), CRLF rows as RFC 4180."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers(columns, lang))
    first = True
    for row in rows:
        writer.writerow([cell_text(row.get(c.key)) for c in columns])
        if buffer.tell() >= CHUNK:
            yield (codecs.BOM_UTF8 if first else b"") + buffer.getvalue().encode()
            first = False
            buffer.seek(0)
            buffer.truncate()
    yield (codecs.BOM_UTF8 if first else b"") + buffer.getvalue().encode()


def xlsx_chunks(rows: Iterable[dict], columns: list[Column], lang: str, title: str) -> Iterator[bytes]:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    head = headers(columns, lang)

    def new_sheet(n: int):
        sheet = workbook.create_sheet(title=title[:28] if n == 1 else f"{title[:24]} ({n})")
        sheet.append(head)
        return sheet

    sheets, sheet, used = 1, new_sheet(1), 1
    for row in rows:
        if used >= XLSX_MAX_ROWS:
            sheets += 1
            sheet, used = new_sheet(sheets), 1
        sheet.append([cell_value(row.get(c.key), c.kind) for c in columns])
        used += 1
    with tempfile.TemporaryFile() as out:
        workbook.save(out)
        out.seek(0)
        while chunk := out.read(CHUNK):
            yield chunk


def jsonl_chunks(rows: Iterable[dict]) -> Iterator[str]:
    lines = []
    for row in rows:
        lines.append(json.dumps(local_times(row), cls=DjangoJSONEncoder, ensure_ascii=False))
        if len(lines) >= 500:
            yield "\n".join(lines) + "\n"
            lines = []
    if lines:
        yield "\n".join(lines) + "\n"


def streaming(rows: Iterable[dict], columns: list[Column], fmt: str, filename: str, *,
              lang: str = "en") -> StreamingHttpResponse:
    """The export response for `fmt` (csv, xlsx, jsonl). Nothing is read before the response is iterated."""
    if fmt == "csv":
        response = StreamingHttpResponse(csv_chunks(rows, columns, lang), content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        response = StreamingHttpResponse(xlsx_chunks(rows, columns, lang, filename), content_type=XLSX_TYPE)
    else:
        response = StreamingHttpResponse(jsonl_chunks(rows), content_type="application/x-ndjson; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response["Cache-Control"] = "no-store"
    response["Content-Language"] = "zh-Hans" if lang == "zh" else "en"
    return response


class PassthroughRenderer(BaseRenderer):
    """Lets content negotiation accept an export's media type; errors still render as JSON."""

    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode() if data is not None else b""


class CsvRenderer(PassthroughRenderer):
    media_type, format = "text/csv", "csv"


class JsonLinesRenderer(PassthroughRenderer):
    media_type, format = "application/x-ndjson", "jsonl"


class XlsxRenderer(PassthroughRenderer):
    media_type, format, charset = XLSX_TYPE, "xlsx", None
