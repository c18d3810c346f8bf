"""Year end: a shortfall of a pair's payments against its annual minimum becomes an `assistance_shortfall`
alert for the regulators (scoped by the alert's region codes: payer and payee).

Incremental: each closed year is processed once and then recorded in `YearClose`; a run reads only the
closed years (those before today's) not yet recorded. Idempotent: the alert's fingerprint
(`assistance_shortfall:<pair>:<year>`) is unique, so a rerun (or two runs at once: an advisory lock
serializes them) writes nothing twice. Payments made for a year after it closed do not withdraw its
alert (alerts are append-only); they show in the progress report.
"""
from __future__ import annotations

from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.audit import audit_record
from core.money import from_minor
from oversight.models import Alert, AlertKind

from .models import AssistancePair, PairAgreement, YearClose
from .selectors import progress_report

LOCK = 0x0A55_1575


def fingerprint(pair_id: int, year: int) -> str:
    return f"assistance_shortfall:{pair_id}:{year}"


def _alert(row: dict) -> bool:
    """Insert the pair's shortfall alert for the year unless it exists; True when written."""
    _, created = Alert.objects.get_or_create(
        fingerprint=fingerprint(row["pair"], row["year"]),
        defaults=dict(
            kind=AlertKind.ASSISTANCE_SHORTFALL, severity="high",
            summary=(f"{row['year']} 对口帮扶资金不足：{row['payer_name']} → {row['payee_name']} 已付 "
                     f"{from_minor(row['paid'], 2)} 元，应付不少于 {from_minor(row['minimum'], 2)} 元，"
                     f"差额 {from_minor(row['shortfall'], 2)} 元")[:300],
            organization_ids=[row["payer"], row["payee"]],
            evidence={"pair": row["pair"], "year": row["year"], "agreement_version": row["agreement_version"],
                      "minimum": from_minor(row["minimum"], 2), "paid": from_minor(row["paid"], 2),
                      "shortfall": from_minor(row["shortfall"], 2)},
            region_codes=sorted({row["payer_region"], row["payee_region"]})))
    return created


@transaction.atomic
def year_end(*, today: date | None = None) -> dict:
    """Close every year before `today` not yet closed. Returns {year: shortfall alerts written}."""
    today = today or timezone.localdate()
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK])
    first = (PairAgreement.objects.filter(status="approved").order_by("effective_year")
             .values_list("effective_year", flat=True).first())
    if first is None:
        return {}
    done = set(YearClose.objects.filter(year__lt=today.year).values_list("year", flat=True))
    written = {}
    for year in range(first, today.year):
        if year in done:
            continue
        rows = [r for r in progress_report(AssistancePair.objects.select_related("payer", "payee"), year=year,
                                           on=today) if r["agreement_version"] is not None]
        alerts = sum(_alert(r) for r in rows if r["shortfall"] > 0)
        YearClose.objects.create(year=year, pairs=len(rows), shortfalls=alerts)
        audit_record(actor=Actor.system(), action="assistance.year_close", object_type="assistance_year",
                     object_id=year, after={"pairs": len(rows), "shortfall_alerts": alerts},
                     region_codes=sorted({c for r in rows if r["shortfall"] > 0
                                          for c in (r["payer_region"], r["payee_region"])}))
        written[year] = alerts
    return written
