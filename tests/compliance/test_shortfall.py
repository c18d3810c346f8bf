"""After the deadline: the shortfall list per enterprise and region (a regulator report within its
jurisdiction, oversight.scope) and one `compliance_shortfall` alert per short enterprise, raised by an
idempotent task (Celery beat)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from compliance import selectors, services, tasks
from compliance.models import ComplianceYear
from oversight.models import Alert

from tests.support.compliance import DEADLINE

pytestmark = pytest.mark.django_db
AFTER = DEADLINE + timedelta(days=1)


def _year_with_one_short(cw):
    year = cw.year()
    for org, member, listed, emitted, surrendered in ((cw.fz, cw.fz_m, 1000, 900, 700),
                                                      (cw.xm, cw.xm_m, 500, 400, 400)):
        cw.cover(year, org, listed=listed)
        cw.allocate(year, org)
        cw.allocate(year, org, "true_up")
        cw.verify(year, org, emitted)
        cw.surrender(year, member, surrendered, on=DEADLINE)
    return year


def test_shortfall_list_per_enterprise_and_region(cw):
    year = _year_with_one_short(cw)
    report = selectors.shortfall_report(cw.province_m, year)
    rows = {r["organization"].pk: (r["obligation"], r["surrendered"], r["shortfall"]) for r in report["rows"]}
    assert rows == {cw.fz.pk: (900, 700, 200), cw.xm.pk: (400, 400, 0)}
    regions = {r["region"]: (r["enterprises"], r["short"], r["shortfall"]) for r in report["regions"]}
    assert regions == {"350100": (1, 1, 200), "350200": (1, 0, 0)}


def test_a_city_regulator_sees_only_its_jurisdiction(cw, client_for):
    year = _year_with_one_short(cw)
    report = selectors.shortfall_report(cw.fz_regulator_m, year)
    assert [r["organization"].pk for r in report["rows"]] == [cw.fz.pk]
    body = client_for(cw.fz_regulator_m).get("/api/v1/compliance/shortfalls", {"year": year.pk}).json()
    assert [r["organization"] for r in body["rows"]] == [cw.fz.pk]
    assert body["rows"][0]["shortfall"] == "200" and body["regions"][0]["region"] == "350100"
    # an enterprise or a verifier is not a regulator
    assert client_for(cw.fz_m).get("/api/v1/compliance/shortfalls", {"year": year.pk}).status_code == 403
    assert client_for(cw.verifier_m).get("/api/v1/compliance/shortfalls", {"year": year.pk}).status_code == 403
    # obligations: an enterprise sees its own only; the Fuzhou regulator only Fuzhou's
    mine = client_for(cw.xm_m).get("/api/v1/compliance/obligations").json()
    assert [r["organization"] for r in mine] == [cw.xm.pk]
    fz = client_for(cw.fz_regulator_m).get("/api/v1/compliance/obligations", {"year": year.pk}).json()
    assert [(r["organization"], r["remaining"]) for r in fz] == [(cw.fz.pk, "200")]


def test_alerts_after_the_deadline_once(cw):
    year = _year_with_one_short(cw)
    assert services.shortfall_scan(on=DEADLINE) == 0  # the deadline day: not yet
    assert services.shortfall_scan(on=AFTER) == 1
    assert services.shortfall_scan(on=AFTER) == 0  # idempotent
    assert services.shortfall_scan(on=AFTER + timedelta(days=30)) == 0
    alert = Alert.objects.get(kind="compliance_shortfall")
    assert alert.organization_ids == [cw.fz.pk] and alert.fingerprint == f"compliance_shortfall:{year.pk}:{cw.fz.pk}"
    assert alert.evidence["shortfall"] == 200 and alert.evidence["obligation"] == 900
    assert "350102" in alert.region_codes
    # visible to the Fuzhou regulator through the oversight alert scope, not to Xiamen's
    from oversight.scope import Scope
    assert Scope(cw.fz_regulator_m).by_region_codes(Alert.objects.all()).filter(pk=alert.pk).exists()


def test_the_beat_task_is_scheduled_and_idempotent(cw, monkeypatch):
    _year_with_one_short(cw)
    assert tasks.BEAT_SCHEDULE["compliance-shortfall-scan"]["task"] == "compliance.tasks.shortfall_scan"
    monkeypatch.setattr(services, "today", lambda: AFTER)
    assert tasks.shortfall_scan_task.run() == 1
    assert tasks.shortfall_scan_task.run() == 0
    assert Alert.objects.filter(kind="compliance_shortfall").count() == 1


def test_beat_installs_the_compliance_schedule():
    from config.celery import app

    app.loader.import_default_modules()
    from config.celery import _install_beat_schedule

    _install_beat_schedule(app)
    assert "compliance-shortfall-scan" in app.conf.beat_schedule


def test_nothing_short_nothing_raised(cw):
    year = cw.year()
    cw.cover(year, cw.fz, listed=100)
    cw.allocate(year, cw.fz)
    cw.allocate(year, cw.fz, "true_up")
    cw.verify(year, cw.fz, 100)
    cw.surrender(year, cw.fz_m, 100, on=DEADLINE)
    assert services.shortfall_scan(on=AFTER) == 0
    assert ComplianceYear.objects.count() == 1 and not Alert.objects.exists()
