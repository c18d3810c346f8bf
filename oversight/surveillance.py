"""Market surveillance: detectors that store an `Alert` with the evidence it rests on.

* Linked parties (`self_dealing`, `wash_trade`): trades in the window between organizations linked by
  a shared user (one person with active memberships in both) or a declared parent (one is the other's
  ancestor through `Organization.parent`, or both descend from a common one). Trades in both directions
  between the pair are a `wash_trade` (ownership goes round and comes back); one direction is
  `self_dealing`.
* `off_vwap`: a trade printed more than OVERSIGHT_VWAP_DEVIATION_PCT (20%) away from the VWAP of the
  same instrument's other trades in the OVERSIGHT_VWAP_TRAILING_HOURS (24 h) up to its time (at least
  OVERSIGHT_VWAP_MIN_TRADES of them).
* `concentration`: a non-government participant holding more than OVERSIGHT_CONCENTRATION_PCT (30%) of
  what participants hold of an instrument.
* `cancel_ratio`: an organization that cancelled at least OVERSIGHT_CANCEL_MIN orders in the window at
  OVERSIGHT_CANCEL_RATIO (10) or more cancels per trade, and at least OVERSIGHT_CANCEL_SPIKE_FACTOR (3)
  times its own ratio over the preceding OVERSIGHT_CANCEL_BASELINE_DAYS (when it has such a baseline).

Detectors only read; each alert has a fingerprint (unique), so running them again — by beat every few
minutes, or on demand through the API — never duplicates a finding. Runs are incremental: the trade
detectors read only the trades above a watermark row (see `run_surveillance`), so a run costs what the
new trades cost, however long the history. Failed and rejected trades are
ignored. Alerts are append-only: the evidence is what was seen when the alert was raised.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import GOVERNMENT_KINDS, Membership, Organization, User
from core import conf
from ledger.models import Asset
from trading.models import Order, Trade

from . import sql
from .models import Alert, SurveillanceWatermark

TRADE, ORDER, ASSET = Trade._meta.db_table, Order._meta.db_table, Asset._meta.db_table  # their apps' tables
LIVE = "('failed', 'rejected')"  # statuses the detectors ignore (in SQL)
EVIDENCE_TRADES = 50


def _local_day(at: datetime) -> str:
    return timezone.localtime(at).date().isoformat()


def _regions(org_ids, extra=(), known: dict[int, str] | None = None) -> list[str]:
    if known is not None:
        codes = {known[o] for o in org_ids if o in known}
    else:
        codes = set(Organization.objects.filter(pk__in=org_ids).values_list("region_id", flat=True))
    return sorted(codes | {c for c in extra if c})


# --- linked parties ----------------------------------------------------------------------------------

def _ancestors(org_ids: set[int]) -> dict[int, list[int]]:
    parent: dict[int, int | None] = {}
    frontier = set(org_ids)
    while frontier:
        rows = dict(Organization.objects.filter(pk__in=frontier).values_list("id", "parent_id"))
        parent.update(rows)
        frontier = {p for p in rows.values() if p is not None and p not in parent}
    out = {}
    for org in org_ids:
        chain, seen, p = [], {org}, parent.get(org)
        while p is not None and p not in seen:
            chain.append(p)
            seen.add(p)
            p = parent.get(p)
        out[org] = chain
    return out


def _link(a: int, b: int, users: dict[int, set[int]], ancestors: dict[int, list[int]], names: dict[int, str]):
    evidence = {}
    shared = sorted(users.get(a, set()) & users.get(b, set()))
    if shared:
        evidence["shared_users"] = [{"id": u, "username": names.get(u, "")} for u in shared]
    chain_a, chain_b = ancestors.get(a, []), ancestors.get(b, [])
    if b in chain_a:
        evidence["parent"] = {"ancestor": b, "descendant": a, "chain": [a] + chain_a[: chain_a.index(b) + 1]}
    elif a in chain_b:
        evidence["parent"] = {"ancestor": a, "descendant": b, "chain": [b] + chain_b[: chain_b.index(a) + 1]}
    else:
        common = next((p for p in chain_a if p in chain_b), None)
        if common is not None:
            evidence["parent"] = {"common_ancestor": common, "chains": {str(a): chain_a, str(b): chain_b}}
    return evidence


def _linked_window(a: int, b: int, since: datetime, until: datetime) -> list:
    """Every live trade between a and b in the window (both directions), by the (buyer, id) index."""
    with connection.cursor() as cur:
        cur.execute(f"""SELECT id, buyer_id, seller_id, asset_id, price, quantity, value, created_at
                          FROM {TRADE}
                         WHERE ((buyer_id = %s AND seller_id = %s) OR (buyer_id = %s AND seller_id = %s))
                           AND created_at >= %s AND created_at < %s AND status NOT IN {LIVE}
                         ORDER BY id""", [a, b, b, a, since, until])
        return cur.fetchall()


def detect_linked_trades(*, since: datetime, until: datetime, trades: list | None = None) -> list[Alert]:
    """Linked-party alerts for the pairs that traded in `trades` (the new trades of this run; by default
    every live trade of the window). The evidence of a pair is its whole window, so that both directions
    of a round trip are seen even when only its second leg is new."""
    if trades is None:
        with connection.cursor() as cur:
            cur.execute(f"""SELECT id, buyer_id, seller_id, asset_id, price, quantity, value, created_at
                              FROM {TRADE}
                             WHERE created_at >= %s AND created_at < %s AND status NOT IN {LIVE}
                             ORDER BY id""", [since, until])
            trades = cur.fetchall()
    if not trades:
        return []
    orgs = {t[1] for t in trades} | {t[2] for t in trades}
    users: dict[int, set[int]] = defaultdict(set)
    for user_id, org_id in Membership.objects.filter(organization_id__in=orgs, is_active=True,
                                                     user__is_active=True).values_list("user_id", "organization_id"):
        users[org_id].add(user_id)
    ancestors = _ancestors(orgs)
    multi = {u for org_users in users.values() for u in org_users}
    names = dict(User.objects.filter(pk__in=multi).values_list("id", "username")) if multi else {}
    pairs = sorted({(min(t[1], t[2]), max(t[1], t[2])) for t in trades})
    alerts = []
    for a, b in pairs:
        link = _link(a, b, users, ancestors, names)
        if not link:
            continue
        rows = _linked_window(a, b, since, until)
        if not rows:
            continue
        directions = {(r[1], r[2]) for r in rows}
        kind = "wash_trade" if len(directions) > 1 else "self_dealing"
        assets = sorted({r[3] for r in rows})
        last = max(r[0] for r in rows)
        evidence = {
            "organizations": [a, b], "link": link, "window": [since.isoformat(), until.isoformat()],
            "trade_count": len(rows), "quantity": sum(r[5] for r in rows), "value_fen": sum(r[6] for r in rows),
            "trades": [{"id": r[0], "buyer": r[1], "seller": r[2], "asset": r[3], "price": r[4], "quantity": r[5],
                        "value": r[6], "at": r[7].isoformat()} for r in rows[-EVIDENCE_TRADES:]],
        }
        how = "shared user" if "shared_users" in link else "declared parent"
        alerts.append(Alert(
            kind=kind, severity="high" if kind == "wash_trade" else "medium",
            fingerprint=f"{kind}:{a}:{b}:{last}",
            summary=f"{len(rows)} trade(s) between organizations {a} and {b}, linked by a {how}",
            organization_ids=[a, b], trade_ids=[r[0] for r in rows][-EVIDENCE_TRADES:],
            asset_id=assets[0] if len(assets) == 1 else None, evidence=evidence, region_codes=_regions([a, b])))
    return alerts


# --- prices ------------------------------------------------------------------------------------------

def detect_off_vwap(*, since: datetime, until: datetime, after_id: int = 0, new_from: datetime | None = None,
                    assets: list[int] | None = None) -> list[Alert]:
    """Prints of the window with an id above `after_id` (the trades not yet looked at) against the VWAP
    of their instrument's trades in the trailing hours (by time; one pass of a window function over the
    trades from `new_from` − trailing hours, of `assets` only when given — the instruments of the new
    trades — so the cost follows the recent trades, not the history)."""
    pct = Decimal(conf.get("OVERSIGHT_VWAP_DEVIATION_PCT"))
    hours = conf.get("OVERSIGHT_VWAP_TRAILING_HOURS")
    minimum = conf.get("OVERSIGHT_VWAP_MIN_TRADES")
    lo = max(new_from or since, since) - timedelta(hours=hours)
    asset_filter = "AND t.asset_id = ANY(%(assets)s)" if assets is not None else ""
    with connection.cursor() as cur:
        cur.execute(f"""
            WITH b AS (SELECT t.id, t.asset_id, t.buyer_id, t.seller_id, t.price, t.quantity, t.value, t.created_at
                         FROM {TRADE} t
                        WHERE t.created_at >= %(lo)s AND t.created_at < %(until)s AND t.status NOT IN {LIVE}
                              {asset_filter}),
                 -- the frame's sums minus the row itself, not EXCLUDE CURRENT ROW: with EXCLUDE, PostgreSQL
                 -- recomputes each row's frame from scratch (rows × frame: 17 s for 10k new trades on the
                 -- 1M-trade bench); without it the sums move with the frame (one pass)
                 w AS (SELECT b.*, sum(b.value) OVER f - b.value AS tv, sum(b.quantity) OVER f - b.quantity AS tq,
                              count(*) OVER f - 1 AS n
                         FROM b
                       WINDOW f AS (PARTITION BY b.asset_id ORDER BY b.created_at
                                    RANGE BETWEEN make_interval(hours => {int(hours)}) PRECEDING AND CURRENT ROW))
            SELECT w.id, w.asset_id, w.buyer_id, w.seller_id, w.price, w.quantity, w.created_at, a.scale,
                   a.origin_region_id, w.tv, w.tq, w.n
              FROM w JOIN {ASSET} a ON a.id = w.asset_id
             WHERE w.id > %(after)s AND w.created_at >= %(since)s AND w.n >= %(minimum)s AND w.tq > 0
               AND abs(w.price::numeric * w.tq - w.tv::numeric * power(10::numeric, a.scale)) * 100
                   > %(pct)s * w.tv::numeric * power(10::numeric, a.scale)
             ORDER BY w.id""", {"lo": lo, "until": until, "assets": assets, "after": after_id, "since": since,
                                "minimum": minimum, "pct": pct})
        rows = cur.fetchall()
    orgs = {r[2] for r in rows} | {r[3] for r in rows}
    regions = dict(Organization.objects.filter(pk__in=orgs).values_list("id", "region_id")) if rows else {}
    alerts = []
    for tid, asset_id, buyer, seller, price, qty, at, scale, origin, value, vqty, n in rows:
        vwap = Decimal(value) * Decimal(10) ** scale / Decimal(vqty)
        deviation = (Decimal(price) - vwap) * 100 / vwap
        evidence = {"trade": tid, "price_fen": price, "quantity": qty, "at": at.isoformat(),
                    "trailing_vwap_fen": str(vwap.quantize(Decimal("0.01"))), "trailing_trades": n,
                    "trailing_quantity": int(vqty), "trailing_value_fen": int(value), "trailing_hours": hours,
                    "deviation_pct": str(deviation.quantize(Decimal("0.01"))), "threshold_pct": str(pct)}
        alerts.append(Alert(
            kind="off_vwap", severity="medium", fingerprint=f"off_vwap:{tid}",
            summary=f"trade {tid} printed {deviation.quantize(Decimal('0.1'))}% from the trailing VWAP",
            organization_ids=[buyer, seller], trade_ids=[tid], asset_id=asset_id, evidence=evidence,
            region_codes=_regions([buyer, seller], [origin], regions)))
    return alerts


# --- holdings ----------------------------------------------------------------------------------------

def detect_concentration(*, now: datetime) -> list[Alert]:
    pct = Decimal(conf.get("OVERSIGHT_CONCENTRATION_PCT"))
    kinds = tuple(sorted(GOVERNMENT_KINDS))
    with connection.cursor() as cur:
        cur.execute(sql.LARGE_HOLDERS, [kinds, pct])
        rows = cur.fetchall()
    day = _local_day(now)
    alerts = []
    for asset_id, code, scale, origin, org, _kind, region, holding, total, holders in rows:
        share = (Decimal(holding) * 100 / Decimal(total)).quantize(Decimal("0.01"))
        alerts.append(Alert(
            kind="concentration", severity="medium", fingerprint=f"concentration:{asset_id}:{org}:{day}",
            summary=f"organization {org} holds {share}% of {code}",
            organization_ids=[org], trade_ids=[], asset_id=asset_id,
            evidence={"asset": code, "holding": holding, "total": int(total), "holders": int(holders),
                      "share_pct": str(share), "threshold_pct": str(pct), "scale": scale, "as_of": now.isoformat()},
            region_codes=sorted({region, origin} - {None})))
    return alerts


# --- order behaviour ---------------------------------------------------------------------------------

def _cancels(since: datetime, until: datetime, orgs=None) -> dict[int, int]:
    """Owner cancels per organization in [since, until) (the `order_owner_cancels` partial index)."""
    extra, params = "", [since, until]
    if orgs is not None:
        extra, params = "AND organization_id = ANY(%s)", params + [list(orgs)]
    with connection.cursor() as cur:
        cur.execute(f"""SELECT organization_id, count(*) FROM {ORDER}
                         WHERE status = 'cancelled' AND cancel_reason = 'cancelled_by_owner'
                           AND updated_at >= %s AND updated_at < %s {extra} GROUP BY 1""", params)
        return {org: int(c) for org, c in cur.fetchall()}


def _trades_of(orgs, since: datetime, until: datetime) -> dict[int, int]:
    """Trades per organization (either side) in [since, until), for the given organizations only."""
    if not orgs:
        return {}
    with connection.cursor() as cur:
        cur.execute(f"""SELECT org, sum(n) FROM (
                           SELECT buyer_id AS org, count(*) AS n FROM {TRADE}
                            WHERE buyer_id = ANY(%s) AND created_at >= %s AND created_at < %s GROUP BY 1
                           UNION ALL
                           SELECT seller_id, count(*) FROM {TRADE}
                            WHERE seller_id = ANY(%s) AND created_at >= %s AND created_at < %s GROUP BY 1) x
                        GROUP BY org""", [list(orgs), since, until] * 2)
        return {org: int(n) for org, n in cur.fetchall()}


def _cancels_and_trades(since: datetime, until: datetime, orgs=None) -> dict[int, list[int]]:
    cancels = _cancels(since, until, orgs)
    trades = _trades_of(set(cancels), since, until)
    return {org: [c, trades.get(org, 0)] for org, c in cancels.items()}


def detect_cancel_ratio(*, since: datetime, until: datetime) -> list[Alert]:
    ratio_min = Decimal(conf.get("OVERSIGHT_CANCEL_RATIO"))
    minimum = conf.get("OVERSIGHT_CANCEL_MIN")
    factor = Decimal(conf.get("OVERSIGHT_CANCEL_SPIKE_FACTOR"))
    days = conf.get("OVERSIGHT_CANCEL_BASELINE_DAYS")
    # cancels first (orders only); trades are counted only for organizations that cancelled enough
    cancels = {org: c for org, c in _cancels(since, until).items() if c >= minimum}
    trades = _trades_of(set(cancels), since, until)
    suspects = {org: [c, trades.get(org, 0)] for org, c in cancels.items()
                if Decimal(c) >= ratio_min * max(trades.get(org, 0), 1)}
    if not suspects:
        return []
    baseline = _cancels_and_trades(since - timedelta(days=days), since, set(suspects))
    alerts = []
    for org, (cancels, trades) in suspects.items():
        ratio = Decimal(cancels) / max(trades, 1)
        b_cancels, b_trades = baseline.get(org, [0, 0])
        b_ratio = Decimal(b_cancels) / max(b_trades, 1) if b_cancels + b_trades else None
        if b_ratio is not None and b_cancels >= minimum and ratio < factor * b_ratio:
            continue  # this participant always cancels this much: not a spike
        alerts.append(Alert(
            kind="cancel_ratio", severity="low", fingerprint=f"cancel_ratio:{org}:{_local_day(until)}",
            summary=f"organization {org}: {cancels} cancels for {trades} trade(s)",
            organization_ids=[org], trade_ids=[],
            evidence={"cancels": cancels, "trades": trades, "ratio": str(ratio.quantize(Decimal("0.01"))),
                      "window": [since.isoformat(), until.isoformat()],
                      "baseline": {"days": days, "cancels": b_cancels, "trades": b_trades,
                                   "ratio": str(b_ratio.quantize(Decimal("0.01"))) if b_ratio is not None else None},
                      "thresholds": {"ratio": str(ratio_min), "min_cancels": minimum, "spike_factor": str(factor)}},
            region_codes=_regions([org])))
    return alerts


# --- running -----------------------------------------------------------------------------------------

DETECTORS = ("linked", "off_vwap", "concentration", "cancel_ratio")


WATERMARK = "trades"


def _claim_watermark() -> SurveillanceWatermark | None:
    """The watermark row, locked for this run (None when another run holds it: runs never overlap)."""
    SurveillanceWatermark.objects.get_or_create(name=WATERMARK)
    return SurveillanceWatermark.objects.select_for_update(skip_locked=True).filter(name=WATERMARK).first()


def _new_trades(after_id: int, since: datetime, until: datetime) -> list:
    """Trades above the watermark created before `until` (every status: the mark passes them all)."""
    with connection.cursor() as cur:
        cur.execute(f"""SELECT id, buyer_id, seller_id, asset_id, price, quantity, value, created_at, status
                         FROM {TRADE}
                        WHERE id > %s AND created_at >= %s AND created_at < %s ORDER BY id""",
                    [after_id, since, until])
        return cur.fetchall()


def _trades_may_be_new(after_id: int) -> bool:
    """False when no trade id was handed out since the watermark (the sequence, no trade row read)."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_sequence_last_value(pg_get_serial_sequence(%s, 'id')::regclass)", [TRADE])
        last_value = cur.fetchone()[0]  # NULL until the first id is handed out
    return last_value is not None and last_value > after_id


def run_surveillance(*, now: datetime | None = None, window_hours: int | None = None,
                     detectors=DETECTORS) -> dict[str, int]:
    """Run the detectors over the window ending `now`; store new alerts; return new alerts per kind.

    Incremental: the trade detectors read only trades above the watermark (`SurveillanceWatermark`),
    and the mark then moves past those older than OVERSIGHT_SURVEILLANCE_LAG_SECONDS; with no trade id
    handed out since the mark, no trade row is read at all. `cancel_ratio` reads the window's owner
    cancels (an index on them) and counts trades only for organizations that cancelled enough;
    `concentration` reads balances (it grows with accounts, not history)."""
    now = now or timezone.now()
    since = now - timedelta(hours=window_hours or conf.get("OVERSIGHT_SURVEILLANCE_WINDOW_HOURS"))
    settled_before = now - timedelta(seconds=conf.get("OVERSIGHT_SURVEILLANCE_LAG_SECONDS"))
    found: list[Alert] = []
    with transaction.atomic():
        mark = _claim_watermark()
        if mark is None:
            return {}
        trade_detectors = {"linked", "off_vwap"} & set(detectors)
        if trade_detectors and _trades_may_be_new(mark.last_trade_id):
            rows = _new_trades(mark.last_trade_id, since, now)
            live = [r[:8] for r in rows if r[8] not in ("failed", "rejected")]
            if "linked" in detectors and live:
                found += detect_linked_trades(since=since, until=now, trades=live)
            if "off_vwap" in detectors and live:
                found += detect_off_vwap(since=since, until=now, after_id=mark.last_trade_id,
                                         new_from=min(r[7] for r in live), assets=sorted({r[3] for r in live}))
            young = [r[0] for r in rows if r[7] >= settled_before]
            passed = [r[0] for r in rows if not young or r[0] < min(young)]
            if passed and set(detectors) >= {"linked", "off_vwap"}:  # a partial run does not move the mark
                mark.last_trade_id = max(passed)
        if "concentration" in detectors:
            found += detect_concentration(now=now)
        if "cancel_ratio" in detectors:
            found += detect_cancel_ratio(since=since, until=now)
        mark.last_run_at = now
        mark.save(update_fields=["last_trade_id", "last_run_at"])
        if not found:
            return {}
        existing = set(Alert.objects.filter(fingerprint__in=[a.fingerprint for a in found])
                       .values_list("fingerprint", flat=True))
        new = [a for a in found if a.fingerprint not in existing]
        Alert.objects.bulk_create(new, ignore_conflicts=True)
    counts: dict[str, int] = {}
    for a in new:
        counts[a.kind] = counts.get(a.kind, 0) + 1
    return counts
