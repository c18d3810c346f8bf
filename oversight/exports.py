"""The regulators' trade and audit exports (CSV, .xlsx, JSON lines) in constant memory: rows come from a
server-side cursor (Django's `QuerySet.iterator(chunk_size)` on PostgreSQL, inside one transaction so
the cursor need not be materialized) and are written by `core.tabular` a chunk at a time. Names
stand beside ids (organizations, regions, assets, right types) in the caller's language; instrument and
region data (small) come from in-memory maps rather than a join per row."""
from __future__ import annotations

from collections.abc import Iterator

from django.db import transaction

from accounts.models import Region
from core.money import from_minor
from core.tabular import Column, streaming
from ledger.models import Asset, RightType
from trading.models import Trade

CHUNK = 2000

TRADE_COLUMNS = [
    Column("id", "成交编号", "int"), Column("created_at", "成交时间", "time"),
    Column("settled_at", "结算时间", "time"), Column("status", "状态"), Column("source", "来源"),
    Column("market", "市场代码"), Column("asset", "标的代码"), Column("asset_name", "标的名称"),
    Column("right_type", "权益类型代码"), Column("right_type_name", "权益类型"), Column("subtype", "子类型"),
    Column("origin_region", "产出地代码"), Column("origin_region_name", "产出地"),
    Column("buyer", "买方编号", "int"), Column("buyer_name", "买方名称"), Column("buyer_region", "买方地区代码"),
    Column("buyer_region_name", "买方地区"), Column("seller", "卖方编号", "int"), Column("seller_name", "卖方名称"),
    Column("seller_region", "卖方地区代码"), Column("seller_region_name", "卖方地区"),
    Column("buy_order", "买单编号", "int"), Column("sell_order", "卖单编号", "int"),
    Column("listing", "挂牌编号", "int"), Column("price", "价格（元）", "amount"), Column("unit", "计量单位"),
    Column("quantity", "数量", "amount"), Column("value", "成交金额（元）", "amount"),
    Column("buyer_fee", "买方手续费（元）", "amount"), Column("seller_fee", "卖方手续费（元）", "amount"),
    Column("rule_version", "规则版本", "int"), Column("ledger_transaction", "账务交易编号", "int"),
    Column("failure_reason", "失败原因"),
]
AUDIT_COLUMNS = [
    Column("id", "事件编号", "int"), Column("occurred_at", "发生时间", "time"), Column("action", "操作"),
    Column("object_type", "对象类型"), Column("object_id", "对象编号"), Column("actor_user", "操作用户编号", "int"),
    Column("actor_username", "操作用户"), Column("actor_organization", "操作机构编号", "int"),
    Column("actor_organization_name", "操作机构"), Column("region_codes", "涉及地区", "json"),
    Column("request_id", "请求编号"), Column("before", "变更前", "json"), Column("after", "变更后", "json"),
]


def _name(zh: str, en: str, lang: str) -> str:
    return zh if lang == "zh" or not en else en


def _regions(lang: str) -> dict[str, str]:
    return {code: _name(zh, en, lang) for code, zh, en in Region.objects.values_list("code", "name_zh", "name_en")}


def _assets(lang: str) -> dict[int, tuple]:
    right_types = {code: _name(zh, en, lang) for code, zh, en in RightType.objects.values_list("code", "name_zh",
                                                                                              "name_en")}
    return {pk: (code, _name(zh, en, lang), rt, right_types.get(rt, ""), subtype, origin, scale, unit)
            for pk, code, zh, en, rt, subtype, origin, scale, unit in Asset.objects.values_list(
                "id", "code", "name_zh", "name_en", "right_type_id", "subtype", "origin_region_id", "scale", "unit")}


def trade_rows(qs, *, lang: str = "en") -> Iterator[dict]:
    assets, regions = _assets(lang), _regions(lang)
    fields = ("id", "created_at", "settled_at", "status", "source", "market__code", "asset_id", "buyer_id",
              "buyer__name_zh", "buyer__name_en", "buyer__region_id", "seller_id", "seller__name_zh",
              "seller__name_en", "seller__region_id", "buy_order_id", "sell_order_id", "listing_id", "price",
              "quantity", "value", "buyer_fee", "seller_fee", "rule_version", "ledger_transaction_id",
              "failure_reason")
    with transaction.atomic():
        for (tid, created, settled, status, source, market, asset_id, buyer, buyer_zh, buyer_en, buyer_region,
             seller, seller_zh, seller_en, seller_region, buy_order, sell_order, listing, price, quantity, value,
             bfee, sfee, version, ltxn, reason) in qs.order_by("id").values_list(*fields).iterator(chunk_size=CHUNK):
            if asset_id not in assets:
                assets.update(_assets(lang))
            code, name, right_type, right_type_name, subtype, origin, scale, unit = assets.get(
                asset_id, ("", "", "", "", "", "", 0, ""))
            yield {"id": tid, "created_at": created, "settled_at": settled, "status": status, "source": source,
                   "market": market or "", "asset": code, "asset_name": name, "right_type": right_type,
                   "right_type_name": right_type_name, "subtype": subtype, "origin_region": origin or "",
                   "origin_region_name": regions.get(origin, ""), "buyer": buyer,
                   "buyer_name": _name(buyer_zh, buyer_en, lang), "buyer_region": buyer_region,
                   "buyer_region_name": regions.get(buyer_region, ""), "seller": seller,
                   "seller_name": _name(seller_zh, seller_en, lang), "seller_region": seller_region,
                   "seller_region_name": regions.get(seller_region, ""), "buy_order": buy_order,
                   "sell_order": sell_order, "listing": listing, "price": from_minor(price, 2), "unit": unit,
                   "quantity": from_minor(quantity, scale), "value": from_minor(value, 2),
                   "buyer_fee": from_minor(bfee, 2), "seller_fee": from_minor(sfee, 2), "rule_version": version,
                   "ledger_transaction": ltxn, "failure_reason": reason}


def audit_rows(qs, *, lang: str = "en") -> Iterator[dict]:
    fields = ("id", "occurred_at", "action", "object_type", "object_id", "actor_user_id", "actor_user__username",
              "actor_organization_id", "actor_organization__name_zh", "actor_organization__name_en", "region_codes",
              "request_id", "before", "after")
    with transaction.atomic():
        for (eid, occurred, action, object_type, object_id, user, username, org, org_zh, org_en, regions,
             request_id, before, after) in qs.order_by("id").values_list(*fields).iterator(chunk_size=CHUNK):
            yield {"id": eid, "occurred_at": occurred, "action": action, "object_type": object_type,
                   "object_id": object_id, "actor_user": user, "actor_username": username or "",
                   "actor_organization": org,
                   "actor_organization_name": _name(org_zh or "", org_en or "", lang) if org else "",
                   "region_codes": regions, "request_id": request_id, "before": before, "after": after}


__all__ = ["AUDIT_COLUMNS", "TRADE_COLUMNS", "Trade", "audit_rows", "streaming", "trade_rows"]
