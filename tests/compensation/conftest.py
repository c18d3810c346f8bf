"""Fixtures of the compensation area: a small world with two parties (a Fujian city upstream, Guangdong
downstream), a monitoring station, the provincial and a city regulator, and an agreement factory that
goes through the services (create, sign, four-eyes approval)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from compensation import services
from compensation.models import CompensationApproval, MonitoringSection

SH = ZoneInfo("Asia/Shanghai")


def at(d: date, hour: int = 10) -> datetime:
    return datetime.combine(d, time(hour), tzinfo=SH)


@pytest.fixture(autouse=True)
def _compensation_reference(db):
    """Guangdong's regions and the indicator catalog (data migration 0002; a flush removes them)."""
    from accounts.models import Basin, Region
    from compensation.models import Indicator
    from compensation.reference import ensure_reference

    ensure_reference(Region, Basin, Indicator)


@dataclass
class World:
    up: object
    down: object
    up_admin: object
    down_admin: object
    up_viewer: object
    station: object
    station_member: object
    other_station_member: object
    prov_a: object
    prov_b: object
    city_fz: object
    city_ly: object
    operator_admin: object
    section: object
    extra: dict = field(default_factory=dict)
    gd_a: object = None  # Guangdong's provincial regulator (the agreement is cross-provincial: 4 eyes each side)
    gd_b: object = None


@pytest.fixture
def world(make_org, make_member, operator_org, fund):
    up = make_org("city_government", "350800", name="龙岩市人民政府")
    down = make_org("provincial_authority", "440000", name="广东省生态环境厅")
    station = make_org("monitoring_station", "350000", name="监测站")
    other_station = make_org("monitoring_station", "350100", name="另一监测站")
    prov = make_org("regulator", "350000", jurisdiction="350000")
    fz = make_org("regulator", "350100", jurisdiction="350100")
    ly = make_org("regulator", "350800", jurisdiction="350800")
    gd = make_org("regulator", "440000", jurisdiction="440000", name="广东省生态环境厅（监管）")
    section = MonitoringSection.objects.create(code="ting-boundary", name_zh="汀江省界断面",
                                               basin_id="tingjiang_hanjiang",
                                               upstream_region_id="350800", downstream_region_id="441400",
                                               station=station)
    fund(up, cny=500_000_000_00)
    fund(down, cny=500_000_000_00)
    return World(up=up, down=down, up_admin=make_member(up, "admin"), down_admin=make_member(down, "admin"),
                 up_viewer=make_member(up, "viewer"), station=station, station_member=make_member(station, "admin"),
                 other_station_member=make_member(other_station, "admin"),
                 prov_a=make_member(prov, "approver"), prov_b=make_member(prov, "admin"),
                 city_fz=make_member(fz, "approver"), city_ly=make_member(ly, "approver"),
                 operator_admin=make_member(operator_org, "admin"), section=section,
                 gd_a=make_member(gd, "approver"), gd_b=make_member(gd, "admin"))


TIERS = [{"min_rate": "0.9", "payer": "downstream", "payee": "upstream", "amount": "100.00"},
         {"min_rate": "0.75", "payer": "downstream", "payee": "upstream", "amount": "50.00"},
         {"min_rate": "0", "payer": "upstream", "payee": "downstream", "amount": "100.00"}]


def tiers_spec(w: World, **over) -> dict:
    spec = dict(formula_kind="compliance_tiers",
                terms={"section": w.section.code, "tiers": TIERS},
                parties=[{"organization": w.up.id, "role": "upstream", "contribution": "100.00"},
                         {"organization": w.down.id, "role": "downstream", "contribution": "100.00"}],
                sections=[w.section.code],
                indicators=[{"indicator": "nh3n", "target_class": 3, "limit": "1.0"},
                            {"indicator": "codmn", "target_class": 3, "limit": "6"}],
                periods=[{"start": "2024-01-01", "end": "2024-12-31"}])
    spec.update(over)
    return spec


def approve_all(w: World, approval: CompensationApproval, now=None):
    """Fujian's two, then (a cross-provincial approval) Guangdong's two."""
    services.approval_decide(membership=w.prov_a, approval_id=approval.pk, decision="approve", now=now)
    services.approval_decide(membership=w.prov_b, approval_id=approval.pk, decision="approve", now=now)
    approval.refresh_from_db()
    if approval.status == "pending" and "440000" in services.approval_provinces(approval):
        services.approval_decide(membership=w.gd_a, approval_id=approval.pk, decision="approve", now=now)
        services.approval_decide(membership=w.gd_b, approval_id=approval.pk, decision="approve", now=now)


@pytest.fixture
def agreement_in_force():
    def factory(w: World, code="ting", **over):
        v = services.version_create(membership=w.up_admin, code=code, name_zh="汀江-韩江", **tiers_spec(w, **over))
        services.version_sign(membership=w.up_admin, version_id=v.pk)
        services.version_sign(membership=w.down_admin, version_id=v.pk)
        approve_all(w, CompensationApproval.objects.get(version=v), now=at(date(2023, 12, 1)))
        v.refresh_from_db()
        return v

    return factory


def submit(w: World, rows: list[tuple], *, today=date(2026, 1, 1)):
    """rows: (month 'YYYY-MM', indicator, value[, reason])."""
    return services.measurements_submit(membership=w.station_member, today=today, rows=[
        {"section": w.section.code, "indicator": ind, "month": m, "value": v,
         "unit": "mg/L", "reason": (rest[0] if rest else "")} for m, ind, v, *rest in rows])
