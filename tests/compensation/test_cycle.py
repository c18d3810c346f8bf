"""The period cycle: escrow when a period opens, assessment by the tick, four-eyes approval, the objection
window, settlement on the ledger (kinds `compensation_*`, earmarked receipts), corrections that reopen
nothing, the two-way direction, and conservation (verify_ledger clean)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from compensation import services
from compensation.models import Assessment, CompensationApproval, Measurement, Period
from compensation.selectors import agreement_report
from core.errors import DomainError
from ledger.models import Account, LedgerTransaction
from ledger.services import cny
from ledger.verify import verify_ledger

from .conftest import approve_all, at, submit

GOOD = [(f"2024-{m:02d}", ind, v) for m in range(1, 13) for ind, v in (("nh3n", "0.5"), ("codmn", "3"))]


def cash(org):
    out = {}
    for kind in ("participant", "earmarked_basin"):
        acc = Account.objects.filter(organization=org, asset=cny(), kind=kind).first()
        out[kind] = (acc.available, acc.held) if acc else (0, 0)
    return out


def run_to_assessment(w, agreement_in_force, rows=GOOD, **over):
    v = agreement_in_force(w, **over)
    submit(w, rows)
    period = Period.objects.get(version=v)
    services.compensation_tick(now=at(date(2024, 1, 1)), today=date(2024, 1, 1))
    period.refresh_from_db()
    assert period.status == "funded"
    services.compensation_tick(now=at(date(2025, 1, 2)), today=date(2025, 1, 2))
    return v, Assessment.objects.get(period=period)


@pytest.mark.django_db
def test_escrow_is_held_when_the_period_opens(world, agreement_in_force):
    w = world
    agreement_in_force(w)
    before = cash(w.up)["participant"]
    services.compensation_tick(now=at(date(2023, 12, 31)), today=date(2023, 12, 31))
    assert cash(w.up)["participant"] == before  # not yet
    out = services.compensation_tick(now=at(date(2024, 1, 1)), today=date(2024, 1, 1))
    assert out["funded"] == 1
    assert cash(w.up)["participant"] == (before[0] - 10000, 10000)
    assert cash(w.down)["participant"][1] == 10000
    services.compensation_tick(now=at(date(2024, 1, 2)), today=date(2024, 1, 2))  # idempotent
    assert LedgerTransaction.objects.filter(kind="compensation_hold").count() == 1


@pytest.mark.django_db
def test_a_party_short_of_funds_leaves_the_period_unfunded(world, agreement_in_force, make_org, make_member):
    w = world
    poor = make_org("county_government", "350821")
    v = services.version_create(membership=w.up_admin, code="poor", name_zh="穷", formula_kind="compliance_tiers",
                                terms={"section": w.section.code, "tiers": [
                                    {"min_rate": "0", "payer": "upstream", "payee": "downstream", "amount": "1.00"}]},
                                parties=[{"organization": w.up.id, "role": "upstream", "contribution": "1.00"},
                                         {"organization": poor.id, "role": "downstream", "contribution": "1.00"}],
                                sections=[w.section.code], indicators=[{"indicator": "nh3n", "limit": "1"}],
                                periods=[{"start": "2024-01-01", "end": "2024-12-31"}])
    services.version_sign(membership=w.up_admin, version_id=v.pk)
    services.version_sign(membership=make_member(poor, "admin"), version_id=v.pk)
    approve_all(w, CompensationApproval.objects.get(version=v))
    before = cash(w.up)["participant"]
    services.compensation_tick(now=at(date(2024, 1, 1)), today=date(2024, 1, 1))
    period = Period.objects.get(version=v)
    assert period.status == "scheduled" and period.funding_error.startswith("insufficient_balance")
    assert cash(w.up)["participant"] == before  # nothing half-done


@pytest.mark.django_db
def test_good_water_downstream_pays_into_the_upstream_earmarked_fund(world, agreement_in_force):
    w = world
    v, a = run_to_assessment(w, agreement_in_force)
    assert a.status == "pending" and a.transfers == [{"payer": w.down.id, "payee": w.up.id, "amount": 10000}]
    assert [s["step"] for s in a.steps] == [1, 2, 3, 4] and a.steps[2]["values"]["rate"] == "1.0000"
    assert len(a.inputs) == 24 and {i["version"] for i in a.inputs} == {1}
    up0, down0 = cash(w.up), cash(w.down)
    approve_all(w, a.approval, now=at(date(2025, 1, 3)))
    a.refresh_from_db()
    assert a.status == "approved"  # the objection window is still open: not settled
    services.compensation_tick(now=at(date(2025, 1, 5)), today=date(2025, 1, 5))
    a.refresh_from_db()
    assert a.status == "approved"
    services.compensation_tick(now=a.objection_until + timedelta(seconds=1), today=date(2025, 1, 13))
    a.refresh_from_db()
    assert a.status == "settled" and len(a.settlement_transactions) == 2
    kinds = set(LedgerTransaction.objects.filter(pk__in=a.settlement_transactions).values_list("kind", flat=True))
    assert kinds == {"compensation_transfer", "compensation_release"}
    transfer = LedgerTransaction.objects.get(pk=a.settlement_transactions[0])
    assert transfer.memo["purpose_codes"] == ["water_pollution_control", "ecological_protection"]
    # Guangdong's escrow paid Longyan's earmarked fund; Longyan's escrow came back
    assert cash(w.down)["participant"] == (down0["participant"][0], 0)
    assert cash(w.up)["participant"] == (up0["participant"][0] + 10000, 0)
    assert cash(w.up)["earmarked_basin"] == (10000, 0)
    assert Period.objects.get(pk=a.period_id).status == "settled"
    services.compensation_tick(now=a.objection_until + timedelta(days=1), today=date(2025, 1, 14))  # idempotent
    assert LedgerTransaction.objects.filter(kind__startswith="compensation_").count() == 3
    report = verify_ledger()
    assert report.ok, report.fault


@pytest.mark.django_db
def test_bad_water_upstream_pays_downstream(world, agreement_in_force):
    w = world
    bad = [(m, ind, "1.5" if ind == "nh3n" and int(m[-2:]) <= 4 else v) for m, ind, v in GOOD]
    v, a = run_to_assessment(w, agreement_in_force, rows=bad)
    assert a.steps[2]["values"]["rate_exact"] == "2/3"
    assert a.transfers == [{"payer": w.up.id, "payee": w.down.id, "amount": 10000}]
    approve_all(w, a.approval, now=a.objection_until)
    a.refresh_from_db()
    assert a.status == "settled"  # approved after the window: settled at once
    assert cash(w.down)["earmarked_basin"] == (10000, 0)
    assert verify_ledger().ok


@pytest.mark.django_db
def test_an_objection_holds_the_settlement_until_resolved(world, agreement_in_force):
    w = world
    v, a = run_to_assessment(w, agreement_in_force)
    with pytest.raises(DomainError) as e:
        services.objection_raise(membership=w.up_viewer, assessment_id=a.pk, reason="x")
    assert e.value.code == "not_a_party_admin"
    obj = services.objection_raise(membership=w.down_admin, assessment_id=a.pk, reason="the April sample was lost",
                                   now=at(date(2025, 1, 4)))
    approve_all(w, a.approval, now=at(date(2025, 1, 5)))
    services.compensation_tick(now=a.objection_until + timedelta(days=1), today=date(2025, 1, 20))
    a.refresh_from_db()
    assert a.status == "approved" and not a.settlement_transactions  # held by the open objection
    with pytest.raises(DomainError) as e:
        services.objection_resolve(membership=w.down_admin, objection_id=obj.pk, uphold=False, resolution="x")
    assert e.value.code == "compensation_not_an_approver"
    services.objection_resolve(membership=w.prov_a, objection_id=obj.pk, uphold=False,
                               resolution="the sample was re-analysed; the data stands")
    services.compensation_tick(now=a.objection_until + timedelta(days=2), today=date(2025, 1, 21))
    a.refresh_from_db()
    assert a.status == "settled"


@pytest.mark.django_db
def test_the_window_closes(world, agreement_in_force):
    w = world
    v, a = run_to_assessment(w, agreement_in_force)
    with pytest.raises(DomainError) as e:
        services.objection_raise(membership=w.down_admin, assessment_id=a.pk, reason="late",
                                 now=a.objection_until)
    assert e.value.code == "objection_window_closed"


@pytest.mark.django_db
def test_an_upheld_objection_rejects_and_a_correction_brings_a_new_assessment(world, agreement_in_force):
    w = world
    v, a = run_to_assessment(w, agreement_in_force)
    obj = services.objection_raise(membership=w.down_admin, assessment_id=a.pk, reason="April NH3-N was 1.4",
                                   now=at(date(2025, 1, 3)))
    services.objection_resolve(membership=w.prov_b, objection_id=obj.pk, uphold=True, resolution="upheld",
                               now=at(date(2025, 1, 4)))
    a.refresh_from_db()
    assert a.status == "rejected" and a.approval.status == "rejected"
    services.compensation_tick(now=at(date(2025, 1, 5)), today=date(2025, 1, 5))
    assert Assessment.objects.filter(period=a.period).count() == 1  # no new data: not assessed again
    submit(w, [("2024-04", "nh3n", "1.4", "laboratory re-analysis")], today=date(2025, 1, 6))
    services.compensation_tick(now=at(date(2025, 1, 7)), today=date(2025, 1, 7))
    b = Assessment.objects.get(period=a.period, attempt=2)
    assert b.steps[2]["values"]["rate_exact"] == "11/12" and b.status == "pending"
    assert any(i["month"] == "2024-04" and i["indicator"] == "nh3n" and i["version"] == 2 for i in b.inputs)


@pytest.mark.django_db
def test_a_correction_after_settlement_reopens_nothing_but_is_shown(world, agreement_in_force):
    w = world
    v, a = run_to_assessment(w, agreement_in_force)
    approve_all(w, a.approval, now=a.objection_until)
    a.refresh_from_db()
    assert a.status == "settled"
    submit(w, [("2024-03", "nh3n", "1.3", "calibration error found")], today=date(2025, 3, 1))
    services.compensation_tick(now=at(date(2025, 3, 2)), today=date(2025, 3, 2))
    a.refresh_from_db()
    assert a.status == "settled" and Assessment.objects.filter(period=a.period).count() == 1
    assert LedgerTransaction.objects.filter(kind="compensation_transfer").count() == 1
    report = agreement_report(v.agreement)
    shown = report["periods"][0]["assessments"][0]["inputs_corrected_since"]
    assert [(i["month"], i["indicator"], i["version"]) for i in shown] == [("2024-03", "nh3n", 1)]
    series = report["sections"][0]["series"]["nh3n"]["points"]
    assert {"month": "2024-03", "value": "1.3000", "version": 2} in series
    assert report["cumulative"] == [{"payer": w.down.id, "payer_name": w.down.name_zh, "payee": w.up.id,
                                     "payee_name": w.up.name_zh, "amount": 10000}]
    assert Measurement.objects.filter(section=w.section, month=date(2024, 3, 1), indicator__code="nh3n").count() == 2


@pytest.mark.django_db
def test_measurements_are_validated_and_corrections_need_a_reason(world):
    w = world
    def one(**row):
        base = {"section": w.section.code, "indicator": "nh3n", "month": "2024-01", "value": "0.5", "unit": "mg/L"}
        return services.measurements_submit(membership=w.station_member, rows=[{**base, **row}],
                                            today=date(2025, 1, 1))
    for row, needle in (({"unit": "g/L"}, "unit"), ({"value": "51"}, "valid range"), ({"value": "-1"}, "valid range"),
                        ({"value": "0.12345"}, "decimal places"), ({"value": "1e3"}, "decimal string"),
                        ({"value": "１"}, "decimal string"), ({"month": "2025-02"}, "future"),
                        ({"month": "2024-13"}, "month"), ({"indicator": "xx"}, "indicator")):
        with pytest.raises(DomainError) as e:
            one(**row)
        assert e.value.code == "invalid_measurement" and needle in str(e.value.fields), (row, e.value.fields)
    with pytest.raises(DomainError) as e:
        services.measurements_submit(membership=w.other_station_member, today=date(2025, 1, 1), rows=[
            {"section": w.section.code, "indicator": "nh3n", "month": "2024-01", "value": "0.5", "unit": "mg/L"}])
    assert e.value.code == "not_a_station"
    one()
    with pytest.raises(DomainError) as e:
        one(value="0.6")
    assert e.value.code == "correction_reason_required"
    m = one(value="0.6", reason="re-sampled")[0]
    assert (m.version, m.reason) == (2, "re-sampled")
    assert list(Measurement.objects.filter(section=w.section).values_list("version", "value")) == [
        (1, m.value.__class__("0.5")), (2, m.value.__class__("0.6"))]


@pytest.mark.django_db
def test_weighted_allocation_settles_into_each_recipients_fund(world, make_org, make_member):
    from compensation.models import MonitoringSection

    w = world
    county = make_org("county_government", "350821")
    MonitoringSection.objects.create(code="changting", name_zh="长汀断面", upstream_region_id="350821",
                                          downstream_region_id="350803", station=w.station)
    v = services.version_create(
        membership=w.down_admin, code="alloc", name_zh="因素法分配", formula_kind="weighted_allocation",
        terms={"fund": "100.00", "factors": {"water_quality": "0.7", "forest_cover": "0.2", "water_use": "0.1"},
               "recipients": {str(w.up.id): {"section": w.section.code, "forest_cover": "70", "water_use": "1"},
                              str(county.id): {"section": "changting", "forest_cover": "30", "water_use": "1"}}},
        parties=[{"organization": w.down.id, "role": "funder", "contribution": "100.00"},
                 {"organization": w.up.id, "role": "recipient", "contribution": "0"},
                 {"organization": county.id, "role": "recipient", "contribution": "0"}],
        sections=[w.section.code, "changting"], indicators=[{"indicator": "nh3n", "limit": "1.0"}],
        periods=[{"start": "2024-01-01", "end": "2024-12-31"}])
    for m in (w.down_admin, w.up_admin, make_member(county, "admin")):
        services.version_sign(membership=m, version_id=v.pk)
    approve_all(w, CompensationApproval.objects.get(version=v))
    # Longyan's section complies all year, Changting's in 6 months of 12
    rows = [{"section": sec, "indicator": "nh3n", "month": f"2024-{m:02d}", "unit": "mg/L",
             "value": "0.5" if sec == w.section.code or m % 2 else "1.5"}
            for sec in (w.section.code, "changting") for m in range(1, 13)]
    services.measurements_submit(membership=w.station_member, rows=rows, today=date(2025, 1, 1))
    services.compensation_tick(now=at(date(2024, 1, 1)), today=date(2024, 1, 1))
    services.compensation_tick(now=at(date(2025, 1, 2)), today=date(2025, 1, 2))
    a = Assessment.objects.get(period__version=v)
    # shares: Longyan 0.7·(1/1.5) + 0.2·0.7 + 0.1·0.5 = 0.65667; Changting 0.7·(0.5/1.5) + 0.06 + 0.05 = 0.34333
    # 10000 fen → 6566.67 / 3433.33 → floors 6566 / 3433, the 1 fen left to Longyan (larger remainder)
    assert a.transfers == [{"payer": w.down.id, "payee": w.up.id, "amount": 6567},
                           {"payer": w.down.id, "payee": county.id, "amount": 3433}]
    approve_all(w, a.approval, now=a.objection_until)
    assert cash(county)["earmarked_basin"] == (3433, 0) and cash(w.up)["earmarked_basin"] == (6567, 0)
    assert cash(w.down)["participant"][1] == 0
    assert verify_ledger().ok
