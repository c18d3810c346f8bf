"""Allocation: by list and by benchmark × output (hand-computed; rounded up once, core.money's rule), the
pre-allocation and the true-up (positive: issued; negative: owed, added to the obligation), issuance by
two people (ledger maker–checker), and the authority's monopoly on it."""
from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import AuditEvent
from compliance import services
from compliance.models import Allocation
from core.errors import ApiError, DomainError
from ledger import movements
from ledger.models import MovementRequest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("benchmark, output, scale, percent, expected", [
    ("0.8218", "2900000", 0, 70, 1_668_254),   # 0.8218 × 2,900,000 × 0.7 = 1,668,254 exactly
    ("0.8218", "3000000", 0, 100, 2_465_400),
    ("0.333333", "10", 0, 100, 4),             # 3.33333 t → 4 t (rounded up once)
    ("0.333333", "10", 3, 100, 3_334),         # 3.33333 t → 3.334 t in kg
    ("1.2", "0.5", 0, 70, 1),                  # 0.42 → 1
    ("1.000001", "1000000", 0, 100, 1_000_001),
])
def test_benchmark_times_output_is_rounded_up_once(benchmark, output, scale, percent, expected):
    assert services.benchmark_allocation(benchmark=Decimal(benchmark), output=Decimal(output), scale=scale,
                                         percent=percent) == expected


def test_pre_allocation_by_list_is_the_year_share_rounded_up(cw):
    year = cw.year(percent=70)
    cw.cover(year, cw.fz, listed=1_000_001)
    pre = cw.allocate(year, cw.fz, confirm=False)
    assert pre.amount == 700_001  # 700,000.7 → 700,001
    assert pre.basis["method"] == "list" and pre.movement.status == "pending"


def test_two_people_issue_an_allocation(cw):
    year = cw.year()
    cw.cover(year, cw.fz, listed=1000)
    pre = cw.allocate(year, cw.fz, confirm=False)
    assert cw.holding(cw.fz, cw.asset) == 0  # nothing issued until a second person confirms
    movement = MovementRequest.objects.get(pk=pre.movement_id)
    assert movement.kind == "issue" and movement.request["recipient"] == cw.fz.pk and movement.amount == 700
    with pytest.raises(ApiError) as exc:
        movements.movement_confirm(membership=cw.maker, movement_id=movement.pk)
    assert exc.value.code == "maker_cannot_check"
    movements.movement_confirm(membership=cw.checker, movement_id=movement.pk)
    assert cw.holding(cw.fz, cw.asset) == 700
    assert AuditEvent.objects.filter(action="compliance.allocation.propose", object_id=str(pre.pk)).exists()
    assert AuditEvent.objects.filter(action="movement.confirm", object_id=str(movement.pk)).exists()


def test_positive_true_up_by_list_issues_the_rest(cw):
    year = cw.year()
    cw.cover(year, cw.fz, listed=1_100_000)
    cw.allocate(year, cw.fz)
    true_up = cw.allocate(year, cw.fz, "true_up")
    assert true_up.amount == 330_000 and true_up.basis["pre_total"] == 770_000
    assert cw.holding(cw.fz, cw.asset) == 1_100_000


def test_true_up_by_benchmark_uses_the_latest_verified_output(cw):
    year = cw.year()
    cw.cover(year, cw.fz, method="benchmark", benchmark="0.8218")
    pre = cw.allocate(year, cw.fz, expected_output=Decimal("2900000"))
    assert pre.amount == 1_668_254
    with pytest.raises(DomainError) as exc:  # K-ALLOC-001: no verified output yet
        cw.allocate(year, cw.fz, "true_up")
    assert exc.value.code == "compliance_true_up_needs_output"
    cw.verify(year, cw.fz, 2_400_000, output="2800000")
    cw.verify(year, cw.fz, 2_450_000, output="3000000", reason="output corrected")
    true_up = cw.allocate(year, cw.fz, "true_up")
    assert true_up.amount == 2_465_400 - 1_668_254 == 797_146
    assert true_up.basis["verified_version"] == 2
    assert cw.holding(cw.fz, cw.asset) == 2_465_400


def test_negative_true_up_is_owed_not_issued_and_adds_to_the_obligation(cw):
    year = cw.year()
    covered = cw.cover(year, cw.fz, method="benchmark", benchmark="1.2")
    cw.allocate(year, cw.fz, expected_output=Decimal("300000"))  # 252,000
    cw.verify(year, cw.fz, 230_000, output="200000")  # final 240,000
    true_up = cw.allocate(year, cw.fz, "true_up")
    assert true_up.amount == -12_000 and true_up.movement_id is None
    assert cw.holding(cw.fz, cw.asset) == 252_000  # nothing taken back through the ledger
    state = services.obligation_of(covered)
    assert (state["emissions"], state["owed_true_up"], state["obligation"]) == (230_000, 12_000, 242_000)


def test_a_rejected_pre_allocation_does_not_count_in_the_true_up(cw):
    year = cw.year()
    cw.cover(year, cw.fz, listed=1000)
    pre = cw.allocate(year, cw.fz, confirm=False)
    movements.movement_reject(membership=cw.checker, movement_id=pre.movement_id, reason="wrong list")
    assert cw.allocate(year, cw.fz, "true_up").amount == 1000


def test_one_true_up_per_enterprise_and_replays(cw):
    year = cw.year()
    cw.cover(year, cw.fz, listed=1000)
    first = cw.allocate(year, cw.fz, "true_up", key="t1", confirm=False)
    again, replayed = services.allocation_propose(membership=cw.maker, year=year, organization=cw.fz,
                                                  phase="true_up", idempotency_key="t1")
    assert replayed and again.pk == first.pk
    with pytest.raises(DomainError) as exc:
        services.allocation_propose(membership=cw.maker, year=year, organization=cw.fz, phase="true_up",
                                    idempotency_key="t2")
    assert exc.value.code == "compliance_true_up_exists"
    with pytest.raises(DomainError) as exc:  # no pre-allocation after the true-up
        services.allocation_propose(membership=cw.maker, year=year, organization=cw.fz, phase="pre", amount=10,
                                    idempotency_key="p1")
    assert exc.value.code == "compliance_true_up_exists"
    assert Allocation.objects.filter(covered__organization=cw.fz).count() == 1


def test_only_the_year_authority_allocates_and_covers(cw, make_org, make_member):
    year = cw.year()
    cw.cover(year, cw.fz, listed=1000)
    county = make_org("county_government", "350102")
    for member in (make_member(county, "admin"), cw.fz_m, cw.verifier_m):
        with pytest.raises((DomainError, ApiError)):
            services.allocation_propose(membership=member, year=year, organization=cw.fz, phase="pre",
                                        idempotency_key="x")
    viewer = make_member(cw.authority, "viewer")
    with pytest.raises(ApiError):
        services.allocation_propose(membership=viewer, year=year, organization=cw.fz, phase="pre",
                                    idempotency_key="x")
    with pytest.raises(DomainError) as exc:  # K-ENTERPRISE-001
        services.allocation_propose(membership=cw.maker, year=year, organization=cw.xm, phase="pre",
                                    idempotency_key="x")
    assert exc.value.code == "compliance_enterprise_not_covered"
    assert not Allocation.objects.exists()


def test_coverage_is_data_a_county_chooses_a_cycle_for_its_emission_rights(cw, make_org, make_member):
    from datetime import date

    from accounts.actor import Actor
    from ledger import services as ledger_services

    county = make_org("county_government", "350121")
    admin = make_member(county, "admin")
    so2 = ledger_services.asset_create(actor=Actor.system(), code="T-SO2-2025-350121", right_type_id="emission",
                                       subtype="SO2", unit="t", scale=3, vintage=2025, origin_region_id="350121",
                                       issuer=county, valid_from=date(2025, 1, 1), valid_to=date(2030, 12, 31))
    kwargs = dict(membership=admin, right_type_id="emission", region_id="350121", year=2025, allocation_asset=so2,
                  deadline=date(2026, 6, 30))
    with pytest.raises(DomainError) as exc:  # K-COVER-001: not covered yet
        services.compliance_year_create(**kwargs)
    assert exc.value.code == "compliance_not_covered"
    with pytest.raises(DomainError):  # a county cannot choose for another county
        services.coverage_create(membership=admin, right_type_id="emission", region_id="350181", subtype="SO2",
                                 since_year=2025)
    services.coverage_create(membership=admin, right_type_id="emission", region_id="350121", subtype="SO2",
                             since_year=2025)
    year = services.compliance_year_create(**kwargs)
    assert year.period == "emission:2025:350121"
    with pytest.raises(DomainError) as exc:
        services.compliance_year_create(**kwargs)
    assert exc.value.code == "compliance_year_exists"
