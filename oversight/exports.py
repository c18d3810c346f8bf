"""CSV and JSON-lines exports in constant memory: rows come from a server-side cursor (Django's
`QuerySet.iterator` on PostgreSQL, inside one transaction so the cursor need not be materialized) in
chunks, and are written to the response a chunk at a time (`StreamingHttpResponse`). Instrument data
(small) is looked up from an in-memory map rather than joined per row."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import StreamingHttpResponse

from core.money import from_minor
from ledger.models import Asset
from trading.models import Trade

CHUNK = 2000
TRADE_COLUMNS = ["id", "created_at", "settled_at", "status", "source", "market", "asset", "right_type", "subtype",
                 "origin_region", "buyer", "buyer_region", "seller", "seller_region", "price", "quantity", "value",
                 "buyer_fee", "seller_fee", "rule_version", "ledger_transaction", "failure_reason"]
AUDIT_COLUMNS = ["id", "occurred_at", "action", "object_type", "object_id", "actor_user", "actor_organization",
                 "region_codes", "request_id", "before", "after"]


def _assets() -> dict[int, tuple]:
    return {pk: rest for pk, *rest in
            Asset.objects.values_list("id", "code", "right_type_id", "subtype", "origin_region_id", "scale")}


def trade_rows(qs) -> Iterator[dict]:
    assets = _assets()
    fields = ("id", "created_at", "settled_at", "status", "source", "market__code", "asset_id", "buyer_id",
              "buyer__region_id", "seller_id", "seller__region_id", "price", "quantity", "value", "buyer_fee",
              "seller_fee", "rule_version", "ledger_transaction_id", "failure_reason")
    with transaction.atomic():
        for (tid, created, settled, status, source, market, asset_id, buyer, buyer_region, seller, seller_region,
             price, quantity, value, bfee, sfee, version, ltxn, reason) in qs.order_by("id").values_list(
                *fields).iterator(chunk_size=CHUNK):
            if asset_id not in assets:
                assets.update(_assets())
            code, right_type, subtype, origin, scale = assets.get(asset_id, ("", "", "", "", 0))
            yield {"id": tid, "created_at": created, "settled_at": settled, "status": status, "source": source,
                   "market": market or "", "asset": code, "right_type": right_type, "subtype": subtype,
                   "origin_region": origin or "", "buyer": buyer, "buyer_region": buyer_region, "seller": seller,
                   "seller_region": seller_region, "price": from_minor(price, 2),
                   "quantity": from_minor(quantity, scale), "value": from_minor(value, 2),
                   "buyer_fee": from_minor(bfee, 2), "seller_fee": from_minor(sfee, 2), "rule_version": version,
                   "ledger_transaction": ltxn, "failure_reason": reason}


def audit_rows(qs) -> Iterator[dict]:
    fields = ("id", "occurred_at", "action", "object_type", "object_id", "actor_user_id", "actor_organization_id",
              "region_codes", "request_id", "before", "after")
    with transaction.atomic():
        for row in qs.order_by("id").values_list(*fields).iterator(chunk_size=CHUNK):
            yield dict(zip(AUDIT_COLUMNS, row))


def _csv_chunks(rows: Iterable[dict], columns: list[str]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    n = 0
    for row in rows:
        writer.writerow([json.dumps(v, cls=DjangoJSONEncoder, ensure_ascii=False) if isinstance(v, (dict, list))
                         else ("" if v is None else v.isoformat() if hasattr(v, "isoformat") else v)
                         for v in (row[c] for c in columns)])
        n += 1
        if n % 500 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _jsonl_chunks(rows: Iterable[dict]) -> Iterator[str]:
    lines = []
    for row in rows:
        lines.append(json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False))
        if len(lines) >= 500:
            yield "\n".join(lines) + "\n"
            lines = []
    if lines:
        yield "\n".join(lines) + "\n"


def streaming(rows: Iterable[dict], columns: list[str], fmt: str, filename: str) -> StreamingHttpResponse:
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_chunks(rows, columns), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(_jsonl_chunks(rows), content_type="application/x-ndjson; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


__all__ = ["AUDIT_COLUMNS", "TRADE_COLUMNS", "Trade", "audit_rows", "streaming", "trade_rows"]
