"""Market surveillance: detectors that store an `Alert` with the evidence it rests on.

* Linked parties (`self_dealing`, `wash_trade`): trades in the window between organizations linked by
  a shared user (one person with active memberships in both) or a declared parent (one is the other's
  ancestor through `Organization.parent`, or both descend from a common one). Trades in both directions
  between the pair are a `wash_trade` (ownership goes round and comes back); one direction is
  `self_dealing`.
* `off_vwap`: a trade printed more than OVERSIGHT_VWAP_DEVIATION_PCT (20%) away from the VWAP of the
  same instrument's trades in the OVERSIGHT_VWAP_TRAILING_HOURS (24 h) before it (at least
  OVERSIGHT_VWAP_MIN_TRADES of them).
* `concentration`: a non-government participant holding more than OVERSIGHT_CONCENTRATION_PCT (30%) of
  what participants hold of an instrument.
* `cancel_ratio`: an organization that cancelled at least OVERSIGHT_CANCEL_MIN orders in the window at
  OVERSIGHT_CANCEL_RATIO (10) or more cancels per trade, and at least OVERSIGHT_CANCEL_SPIKE_FACTOR (3)
  times its own ratio over the preceding OVERSIGHT_CANCEL_BASELINE_DAYS (when it has such a baseline).

Detectors only read; each alert has a fingerprint (unique), so running them again — by beat every few
minutes, or on demand through the API — never duplicates a finding. Failed and rejected trades are
ignored. Alerts are append-only: the evidence is what was seen when the alert was raised.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from accounts.models import GOVERNMENT_KINDS, Membership, Organization, User
from core import conf

from . import sql
from .models import Alert

EVIDENCE_TRADES = 50


def _local_day(at: datetime) -> str:
    return timezone.localtime(at).date().isoformat()


def _regions(org_ids, extra=()) -> list[str]:
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


def detect_linked_trades(*, since: datetime, until: datetime) -> list[Alert]:
    with connection.cursor() as cur:
        cur.execute(sql.LINKED_TRADES, [since, until])
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
    by_pair: dict[tuple[int, int], list] = defaultdict(list)
    for t in trades:
        by_pair[(min(t[1], t[2]), max(t[1], t[2]))].append(t)
    alerts = []
    for (a, b), rows in by_pair.items():
        link = _link(a, b, users, ancestors, names)
        if not link:
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

def detect_off_vwap(*, since: datetime, until: datetime) -> list[Alert]:
    pct = Decimal(conf.get("OVERSIGHT_VWAP_DEVIATION_PCT"))
    hours = conf.get("OVERSIGHT_VWAP_TRAILING_HOURS")
    minimum = conf.get("OVERSIGHT_VWAP_MIN_TRADES")
    with connection.cursor() as cur:
        cur.execute(sql.OFF_VWAP, [hours, since, until, minimum, pct])
        rows = cur.fetchall()
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
            region_codes=_regions([buyer, seller], [origin])))
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

def _cancels_and_trades(since: datetime, until: datetime) -> dict[int, list[int]]:
    with connection.cursor() as cur:
        cur.execute(sql.CANCELS_AND_TRADES, [since, until] * 3)
        return {org: [int(c), int(t)] for org, c, t in cur.fetchall()}


def detect_cancel_ratio(*, since: datetime, until: datetime) -> list[Alert]:
    ratio_min = Decimal(conf.get("OVERSIGHT_CANCEL_RATIO"))
    minimum = conf.get("OVERSIGHT_CANCEL_MIN")
    factor = Decimal(conf.get("OVERSIGHT_CANCEL_SPIKE_FACTOR"))
    days = conf.get("OVERSIGHT_CANCEL_BASELINE_DAYS")
    recent = _cancels_and_trades(since, until)
    suspects = {org: ct for org, ct in recent.items()
                if ct[0] >= minimum and Decimal(ct[0]) >= ratio_min * max(ct[1], 1)}
    if not suspects:
        return []
    baseline = _cancels_and_trades(since - timedelta(days=days), since)
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


def run_surveillance(*, now: datetime | None = None, window_hours: int | None = None,
                     detectors=DETECTORS) -> dict[str, int]:
    """Run the detectors over the window ending `now`; store new alerts; return new alerts per kind."""
    now = now or timezone.now()
    since = now - timedelta(hours=window_hours or conf.get("OVERSIGHT_SURVEILLANCE_WINDOW_HOURS"))
    found: list[Alert] = []
    if "linked" in detectors:
        found += detect_linked_trades(since=since, until=now)
    if "off_vwap" in detectors:
        found += detect_off_vwap(since=since, until=now)
    if "concentration" in detectors:
        found += detect_concentration(now=now)
    if "cancel_ratio" in detectors:
        found += detect_cancel_ratio(since=since, until=now)
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
