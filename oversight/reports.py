"""Reports for regulators, each one aggregate query, scoped to the caller's jurisdiction.

* `volume_report`: count, volume, value and VWAP of settled trades by right type × region × period.
* `flow_matrix`: origin region → destination (buyer's) region per right type: trades, quantity, value.
* `farmland_proceeds`: the farmland-protection funds (earmarked CNY accounts) per county: balance and
  everything received.
* `concentration`: per instrument, the largest holders' shares and the HHI.
* `pending_approvals`: open approval requests and their age.

Volume and flows read the settled-trade summary (`FlowSummary` ∪ `FlowDelta` by day, or `FlowTotal` ∪
`FlowDelta` for an all-time flow matrix; maintained by triggers on the trade table — see
`oversight.models`), so their cost depends on the number of groups, not on the number of trades.
Days are local (Asia/Shanghai) settlement dates; `since` and `until` are inclusive dates. Quantities are
whole units (decimal strings), values and prices CNY (decimal strings, prices per whole unit); a region
is a county code, or with `level=city` / `level=province` the containing city / province code.
Jurisdiction: a flow is visible when its origin or its destination lies in the caller's jurisdiction.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.money import from_minor

from . import sql
from .models import ApprovalDecision, ApprovalRequest, ApprovalStatus
from .scope import Scope

PERIODS = ("day", "week", "month", "quarter", "year")
LEVELS = ("county", "city", "province")
FLOW_LOCK = 0x0F10_0001


def _region_sql(column: str, level: str) -> str:
    if level == "city":
        return f"left({column}, 4) || '00'"
    if level == "province":
        return f"left({column}, 2) || '0000'"
    return column


def _units(q) -> str:
    if q is None:
        return "0"
    d = Decimal(q)
    return format(d.normalize(), "f") if d else "0"


def _vwap(value: int, quantity) -> str | None:
    quantity = Decimal(quantity or 0)
    if not quantity:
        return None
    return str((Decimal(value) / quantity / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _flow_source(scope: Scope, *, since: date | None, until: date | None, right_type: str | None,
                 origin: str | None = None, destination: str | None = None, daily: bool = False,
                 monthly: bool = False) -> tuple[str, list]:
    """Rows (right_type, origin_region, dest_region, trades, quantity, value[, day]) of settled trades:
    the daily summary ∪ the deltas, or — without a date range — the all-time totals ∪ the deltas. With
    `monthly` (a report by month, quarter or year) the whole months of the range come from the monthly
    roll-up (day = the month's first day), only the partial months at its ends from the daily summary."""
    where, params = ["TRUE"], []
    if right_type:
        where.append("right_type = %s")
        params.append(right_type)
    if origin:
        where.append("origin_region LIKE %s")
        params.append(origin + "%")
    if destination:
        where.append("dest_region LIKE %s")
        params.append(destination + "%")
    if scope.prefix is not None:
        where.append("(origin_region LIKE %s OR dest_region LIKE %s)")
        params += [scope.prefix + "%", scope.prefix + "%"]
    dated, dated_params = list(where), list(params)
    if since:
        dated.append("day >= %s")
        dated_params.append(since)
    if until:
        dated.append("day <= %s")
        dated_params.append(until)
    if since is None and until is None and not daily:
        return sql.flow_source(" AND ".join(where), all_time=True), params + params
    if monthly:
        first, after = _whole_months(since, until)
        if first is None or after is None or first < after:
            months, month_params, whole = ["TRUE"], [], ["TRUE"]
            if first is not None:
                months.append("month >= %s")
                whole.append("day >= %s")
                month_params.append(first)
            if after is not None:
                months.append("month < %s")
                whole.append("day < %s")
                month_params.append(after)
            days = dated[len(where):] or ["TRUE"]
            day_params = dated_params[len(params):]
            w = " AND ".join(where)
            return (sql.flow_source_by_month(w, " AND ".join(months), " AND ".join(days), " AND ".join(whole)),
                    params + month_params + params + day_params + month_params + params + day_params)
    return sql.flow_source(" AND ".join(dated), all_time=False), dated_params + dated_params


def _whole_months(since: date | None, until: date | None) -> tuple[date | None, date | None]:
    """The first day of the first whole month in [since, until] and the first day after the last whole
    month (None: unbounded on that side)."""
    first = after = None
    if since is not None:
        first = since if since.day == 1 else (since.replace(day=1) + timedelta(days=32)).replace(day=1)
    if until is not None:
        following = (until.replace(day=1) + timedelta(days=32)).replace(day=1)
        after = following if until + timedelta(days=1) == following else until.replace(day=1)
    return first, after


def _prefix_of(code: str | None) -> str | None:
    """The code prefix a region filter means (a city code filters its counties)."""
    if not code:
        return None
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def volume_report(scope: Scope, *, period: str = "month", by: str = "origin", level: str = "county",
                  since: date | None = None, until: date | None = None, right_type: str | None = None,
                  region: str | None = None) -> list[dict]:
    assert period in PERIODS and level in LEVELS and by in ("origin", "destination")
    column = "origin_region" if by == "origin" else "dest_region"
    source, params = _flow_source(scope, since=since, until=until, right_type=right_type, daily=True,
                                  monthly=period in ("month", "quarter", "year"),
                                  origin=_prefix_of(region) if by == "origin" else None,
                                  destination=_prefix_of(region) if by == "destination" else None)
    region_sql = _region_sql("f." + column, level)
    statement = f"""SELECT date_trunc(%s, f.day)::date AS period, f.right_type, {region_sql} AS region,
                     sum(f.trades), sum(f.quantity), sum(f.value)
                FROM ({source}) f
               GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
    with connection.cursor() as cur:
        cur.execute(statement, [period] + params)
        rows = cur.fetchall()
    return [{"period": p, "right_type": rt, "region": r, "trades": int(n), "volume": _units(q),
             "value": from_minor(int(v), 2), "vwap": _vwap(int(v), q)} for p, rt, r, n, q, v in rows]


def flow_matrix(scope: Scope, *, level: str = "county", since: date | None = None, until: date | None = None,
                right_type: str | None = None) -> list[dict]:
    assert level in LEVELS
    source, params = _flow_source(scope, since=since, until=until, right_type=right_type)
    statement = f"""SELECT f.right_type, {_region_sql('f.origin_region', level)}, {_region_sql('f.dest_region', level)},
                     sum(f.trades), sum(f.quantity), sum(f.value)
                FROM ({source}) f
               GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
    with connection.cursor() as cur:
        cur.execute(statement, params)
        rows = cur.fetchall()
    return [{"right_type": rt, "origin": o, "destination": d, "trades": int(n), "quantity": _units(q),
             "value": from_minor(int(v), 2)} for rt, o, d, n, q, v in rows]


def flow_rollup() -> int:
    """Fold the flow deltas into the daily summary and the totals (one statement; concurrent
    settlements keep appending deltas meanwhile, and a delta committed after this statement's snapshot
    waits for the next run). Returns the number of deltas folded."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [FLOW_LOCK])
        if not cur.fetchone()[0]:
            return 0
        cur.execute(sql.FLOW_ROLLUP)
        return int(cur.fetchone()[0])


def farmland_proceeds(scope: Scope) -> list[dict]:
    """Per county: the earmarked farmland-protection funds of its government bodies (balance now, and
    every amount received — the proceeds of farmland-quota sales). The farmland fund only (account kind
    `earmarked`): the basin eco-compensation and paired-assistance funds are accounts of their own
    (`ledger.earmark.FUNDS`, reported per fund by `earmarked_report`)."""
    where, params = ["a.kind = 'earmarked'", "s.code = 'CNY'"], []
    if scope.prefix is not None:
        where.append("o.region_id LIKE %s")
        params.append(scope.prefix + "%")
    statement = sql.farmland_proceeds(" AND ".join(where))
    with connection.cursor() as cur:
        cur.execute(statement, params)
        rows = cur.fetchall()
    return [{"region": code, "name_zh": zh, "name_en": en, "accounts": int(n), "balance": from_minor(int(bal), 2),
             "received": from_minor(int(rec), 2), "receipts": int(cnt)} for code, zh, en, n, bal, rec, cnt in rows]


def concentration(scope: Scope, *, top: int = 5, right_type: str | None = None,
                  asset_id: int | None = None) -> list[dict]:
    """Per instrument: total held by participants, the `top` largest holders with their shares (in
    percent, 2 places) and the Herfindahl–Hirschman index (0–10,000)."""
    where, params = ["a.kind = 'participant'", "s.kind = 'right'"], []
    if right_type:
        where.append("s.right_type_id = %s")
        params.append(right_type)
    if asset_id:
        where.append("s.id = %s")
        params.append(asset_id)
    if scope.prefix is not None:
        where.append("s.origin_region_id LIKE %s")
        params.append(scope.prefix + "%")
    statement = sql.holder_concentration(" AND ".join(where))
    with connection.cursor() as cur:
        cur.execute(statement, params + [top])
        rows = cur.fetchall()
    out: dict[int, dict] = {}
    for aid, code, scale, org_id, name, kind, holding, total, rank, holders, hhi in rows:
        entry = out.setdefault(aid, {"asset_id": aid, "asset": code, "total": from_minor(int(total), scale),
                                     "holders": int(holders), "hhi": int(Decimal(hhi).quantize(Decimal(1))),
                                     "top": []})
        entry["top"].append({"rank": int(rank), "organization": org_id, "name": name, "kind": kind,
                             "holding": from_minor(int(holding), scale),
                             "share_pct": str((Decimal(holding) * 100 / Decimal(total)).quantize(Decimal("0.01"),
                                                                                                rounding=ROUND_HALF_UP))})
    return list(out.values())


def pending_approvals(scope: Scope, *, now=None) -> dict:
    now = now or timezone.now()
    qs = scope.approvals(ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING)).select_related("trade")
    rows = []
    approvals = {}
    ids = list(qs.values_list("id", flat=True))
    for rid in ApprovalDecision.objects.filter(request_id__in=ids, decision="approve").values_list("request_id",
                                                                                                   flat=True):
        approvals[rid] = approvals.get(rid, 0) + 1
    for req in qs.order_by("pending_since"):
        age = (now - req.pending_since).total_seconds()
        # rule_codes/required_approvals are the model's names; rules/required stay one release (deprecated)
        rows.append({"id": req.id, "trade": req.trade_id, "rule_codes": req.rule_codes, "rules": req.rule_codes,
                     "jurisdiction": req.jurisdiction, "approvals": approvals.get(req.id, 0),
                     "required_approvals": req.required_approvals, "required": req.required_approvals,
                     "pending_since": req.pending_since, "age_seconds": int(age), "deadline": req.deadline,
                     "overdue": bool(req.deadline and req.deadline <= now), "escalated": req.escalated_at is not None,
                     "notice_until": req.notice_until})
    ages = [r["age_seconds"] for r in rows]
    return {"count": len(rows), "oldest_age_seconds": max(ages) if ages else None,
            "average_age_seconds": int(sum(ages) / len(ages)) if ages else None,
            "escalated": sum(1 for r in rows if r["escalated"]), "requests": rows}


def public_notices(*, organization_id: int, now=None) -> list[dict]:
    """Trades of `organization_id` (buyer or seller) waiting out a public notice (公示, the `public_notice`
    rule): the pending approval request's `notice_until` is still ahead. `final_at` is when the trade is
    released: the notice's end, unless approvals are still missing (then it waits for them too)."""
    now = now or timezone.now()
    qs = (ApprovalRequest.objects.select_related("trade")
          .filter(status=ApprovalStatus.PENDING, notice_until__gt=now)
          .filter(Q(trade__buyer_id=organization_id) | Q(trade__seller_id=organization_id))
          .order_by("notice_until"))
    return [{"request": req.id, "trade": req.trade, "rules": req.rule_codes, "notice_until": req.notice_until,
             "final_at": req.notice_until, "awaits_approvals": not req.approvals_complete,
             "days_left": max(0, (req.notice_until - now).days)} for req in qs[:100]]
