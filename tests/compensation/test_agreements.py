"""Agreements as data: versions, signatures by each party's admin, the regulator's four-eyes approval, escrow
coverage of the terms, new versions superseding old ones."""
from __future__ import annotations

from datetime import date

import pytest

from compensation import services
from compensation.models import AgreementVersion, CompensationApproval, Period
from core.errors import DomainError

from .conftest import approve_all, at, tiers_spec


def _create(w, **over):
    return services.version_create(membership=w.up_admin, code="ting", name_zh="汀江", **tiers_spec(w, **over))


@pytest.mark.django_db
def test_a_version_is_signed_by_both_parties_then_approved_by_two_regulator_people(world):
    w = world
    v = _create(w)
    assert v.status == "signing" and len(v.content_hash) == 64
    with pytest.raises(DomainError) as e:
        services.version_sign(membership=w.up_viewer, version_id=v.pk)  # a viewer is not an admin
    assert e.value.code == "not_a_party_admin"
    with pytest.raises(DomainError) as e:
        services.version_sign(membership=w.prov_a, version_id=v.pk)
    assert e.value.code == "not_a_party_admin"
    services.version_sign(membership=w.up_admin, version_id=v.pk)
    with pytest.raises(DomainError) as e:
        services.version_sign(membership=w.up_admin, version_id=v.pk)
    assert e.value.code == "already_signed"
    assert not CompensationApproval.objects.filter(version=v).exists()
    services.version_sign(membership=w.down_admin, version_id=v.pk)
    v.refresh_from_db()
    assert v.status == "pending_approval"
    assert set(v.signatures.values_list("content_hash", flat=True)) == {v.content_hash}
    approval = CompensationApproval.objects.get(version=v)
    services.approval_decide(membership=w.prov_a, approval_id=approval.pk, decision="approve")
    v.refresh_from_db()
    assert v.status == "pending_approval"  # one approval is not enough
    with pytest.raises(DomainError) as e:
        services.approval_decide(membership=w.prov_a, approval_id=approval.pk, decision="approve")
    assert e.value.code == "compensation_already_approved"
    services.approval_decide(membership=w.prov_b, approval_id=approval.pk, decision="approve")
    v.refresh_from_db()
    assert v.status == "pending_approval"  # cross-provincial (Longyan–Guangdong): Guangdong's two are missing
    services.approval_decide(membership=w.gd_a, approval_id=approval.pk, decision="approve")
    services.approval_decide(membership=w.gd_b, approval_id=approval.pk, decision="approve")
    v.refresh_from_db()
    assert v.status == "in_force"
    assert list(Period.objects.filter(version=v).values_list("start", "status")) == [(date(2024, 1, 1), "scheduled")]


@pytest.mark.django_db
def test_no_approver_from_a_party_and_the_final_one_is_the_province(world, make_member, make_org, fund):
    w = world
    # a province-internal agreement (Longyan upstream, Zhangzhou downstream): one province's four eyes
    zhangzhou = make_org("city_government", "350600", name="漳州市人民政府")
    fund(zhangzhou, cny=500_000_000_00)
    w.down_admin = make_member(zhangzhou, "admin")
    w.down = zhangzhou
    w.section.downstream_region_id = "350600"
    w.section.save(update_fields=["downstream_region"])
    v = _create(w, parties=[{"organization": w.up.id, "role": "upstream", "contribution": "100.00"},
                            {"organization": zhangzhou.id, "role": "downstream", "contribution": "100.00"}])
    services.version_sign(membership=w.up_admin, version_id=v.pk)
    services.version_sign(membership=w.down_admin, version_id=v.pk)
    approval = CompensationApproval.objects.get(version=v)
    # a provincial approver who also holds a (viewer) seat in a party: the person is disqualified
    conflicted = make_member(w.prov_a.organization, "approver")
    from accounts.models import Membership
    Membership.objects.create(user=conflicted.user, organization=w.down, role="viewer")
    with pytest.raises(DomainError) as e:
        services.approval_decide(membership=conflicted, approval_id=approval.pk, decision="approve")
    assert e.value.code == "compensation_approver_conflict"
    # a party's admin is not an approver at all
    with pytest.raises(DomainError) as e:
        services.approval_decide(membership=w.up_admin, approval_id=approval.pk, decision="approve")
    assert e.value.code == "compensation_not_an_approver"
    # a Fuzhou regulator does not cover Longyan or Zhangzhou: not found
    with pytest.raises(DomainError) as e:
        services.approval_decide(membership=w.city_fz, approval_id=approval.pk, decision="approve")
    assert e.value.code == "not_found"
    # the Longyan regulator may give the first approval, not the final one
    services.approval_decide(membership=w.city_ly, approval_id=approval.pk, decision="approve")
    with pytest.raises(DomainError) as e:
        services.approval_decide(membership=w.operator_admin, approval_id=approval.pk, decision="approve")
    assert e.value.code == "compensation_final_approver"
    services.approval_decide(membership=w.prov_a, approval_id=approval.pk, decision="approve")
    v.refresh_from_db()
    assert v.status == "in_force"


@pytest.mark.django_db
def test_the_proposer_may_not_decide(world, make_member):
    w = world
    v = services.version_create(membership=w.operator_admin, code="op", name_zh="运营提出", **tiers_spec(w))
    services.version_sign(membership=w.up_admin, version_id=v.pk)
    services.version_sign(membership=w.down_admin, version_id=v.pk)
    approval = CompensationApproval.objects.get(version=v)
    with pytest.raises(DomainError) as e:
        services.approval_decide(membership=w.operator_admin, approval_id=approval.pk, decision="approve")
    assert e.value.code == "compensation_approver_conflict"


@pytest.mark.django_db
def test_a_rejection_needs_a_reason_and_rejects_the_version(world):
    w = world
    v = _create(w)
    services.version_sign(membership=w.up_admin, version_id=v.pk)
    services.version_sign(membership=w.down_admin, version_id=v.pk)
    approval = CompensationApproval.objects.get(version=v)
    with pytest.raises(DomainError):
        services.approval_decide(membership=w.prov_a, approval_id=approval.pk, decision="reject", reason=" ")
    services.approval_decide(membership=w.prov_a, approval_id=approval.pk, decision="reject", reason="tiers too soft")
    v.refresh_from_db()
    assert v.status == "rejected" and not Period.objects.filter(version=v).exists()
    with pytest.raises(DomainError) as e:
        services.approval_decide(membership=w.prov_b, approval_id=approval.pk, decision="approve")
    assert e.value.code == "compensation_approval_closed"


@pytest.mark.django_db
def test_contributions_must_cover_the_worst_outcome(world):
    w = world
    with pytest.raises(DomainError) as e:
        _create(w, parties=[{"organization": w.up.id, "role": "upstream", "contribution": "99.99"},
                            {"organization": w.down.id, "role": "downstream", "contribution": "100.00"}])
    assert e.value.code == "escrow_does_not_cover"


@pytest.mark.django_db
@pytest.mark.parametrize("over, field", [
    ({"formula_kind": "lottery"}, "formula_kind"),
    ({"terms": {"section": "nowhere", "tiers": []}}, "terms.section"),
    ({"terms": {"section": "ting-boundary", "tiers": [{"min_rate": "0.5", "amount": "0"}]}}, "terms.tiers"),
    ({"sections": ["nowhere"]}, "sections"),
    ({"periods": [{"start": "2024-12-31", "end": "2024-01-01"}]}, "periods[0]"),
    ({"indicators": [{"indicator": "nh3n"}]}, "indicators[0].limit"),
])
def test_invalid_terms_are_refused_with_the_field(world, over, field):
    with pytest.raises(DomainError) as e:
        _create(world, **over)
    assert e.value.code == "invalid_agreement" and field in e.value.fields, e.value.fields


@pytest.mark.django_db
def test_parties_must_be_government_bodies_and_the_proposer_one_of_them(world, make_org, make_member):
    w = world
    ent = make_org("enterprise", "350800")
    with pytest.raises(DomainError) as e:
        _create(w, parties=[{"organization": ent.id, "role": "upstream", "contribution": "100.00"},
                            {"organization": w.down.id, "role": "downstream", "contribution": "100.00"}])
    assert e.value.code == "invalid_agreement"
    outsider = make_member(make_org("city_government", "350100"), "admin")
    with pytest.raises(DomainError) as e:
        services.version_create(membership=outsider, code="x", name_zh="x", **tiers_spec(w))
    assert e.value.code == "permission_denied"


@pytest.mark.django_db
def test_a_new_version_supersedes_and_never_edits(world, agreement_in_force):
    w = world
    v1 = agreement_in_force(w, periods=[{"start": "2024-01-01", "end": "2024-12-31"},
                                        {"start": "2025-01-01", "end": "2025-12-31"}])
    services.period_fund(period_id=Period.objects.get(version=v1, start=date(2024, 1, 1)).pk, now=at(date(2024, 1, 1)))
    hash1 = v1.content_hash
    v2 = services.version_create(membership=w.down_admin, agreement=v1.agreement, **tiers_spec(
        w, periods=[{"start": "2024-01-01", "end": "2024-12-31"}, {"start": "2025-01-01", "end": "2025-12-31"}],
        terms={"section": w.section.code, "tiers": [
            {"min_rate": "0.95", "payer": "downstream", "payee": "upstream", "amount": "100.00"},
            {"min_rate": "0", "payer": "upstream", "payee": "downstream", "amount": "100.00"}]}))
    assert v2.version == 2 and v2.content_hash != hash1
    services.version_sign(membership=w.up_admin, version_id=v2.pk)
    services.version_sign(membership=w.down_admin, version_id=v2.pk)
    approve_all(w, CompensationApproval.objects.get(version=v2))
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v2.status) == ("superseded", "in_force")
    assert v1.content_hash == hash1 and v1.terms["tiers"][0]["min_rate"] == "0.9"  # untouched
    periods = {(p.start.year, p.version_id, p.status) for p in Period.objects.filter(agreement=v1.agreement)}
    # the funded 2024 period stays under v1; the scheduled 2025 one moves to v2
    assert periods == {(2024, v1.pk, "funded"), (2025, v1.pk, "cancelled"), (2025, v2.pk, "scheduled")}
    assert AgreementVersion.objects.filter(agreement=v1.agreement, status="in_force").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("over", [
    {"terms": {"section": "ting-boundary", "tiers": ["x"]}},
    {"terms": {"section": "ting-boundary", "tiers": [{"min_rate": 0, "amount": "1.00"}]}},
    {"parties": [{"organization": {"id": 1}, "role": "upstream"}, {"organization": "2", "role": "downstream"}]},
    {"indicators": [{"indicator": "nh3n", "limit": "1e30"}]},
    {"indicators": [{"indicator": "nh3n", "limit": "1", "target_class": -1}]},
    {"periods": [{"start": 20240101, "end": None}]},
    {"periods": ["2024"]},
])
def test_malformed_bodies_are_a_400_and_write_nothing(world, over):
    from compensation.models import Agreement

    with pytest.raises(DomainError) as e:
        _create(world, **over)
    assert e.value.code == "invalid_agreement", e.value.fields
    assert not Agreement.objects.exists()


@pytest.mark.django_db
def test_an_unknown_basin_and_huge_amounts_are_refused(world):
    with pytest.raises(DomainError) as e:
        services.version_create(membership=world.up_admin, code="b", name_zh="b", basin_id="nowhere",
                                **tiers_spec(world))
    assert e.value.fields == {"basin": "a known basin code"}
    with pytest.raises(DomainError) as e:
        _create(world, parties=[{"organization": world.up.id, "role": "upstream", "contribution": "10000000000000.00"},
                                {"organization": world.down.id, "role": "downstream", "contribution": "100.00"}])
    assert "parties[0].contribution" in e.value.fields
