"""#14 item 7: four-eyes without conflict of interest. An approver may not belong, through any
membership, to either party of the trade; two memberships of one person count as one approver."""
from __future__ import annotations

import pytest

from accounts.models import Membership
from core.errors import ApiError
from oversight.approvals import approval_approve, approval_reject


@pytest.fixture
def regulators(make_org, make_member, operator_org):
    province = make_org("regulator", "350000", jurisdiction="350000", name="省生态环境厅")
    return {"province": province, "province_approver": make_member(province, "approver"),
            "province_admin": make_member(province, "admin"),
            "operator_approver": make_member(operator_org, "approver")}


def _refused(code, **kwargs):
    with pytest.raises(ApiError) as exc:
        approval_approve(**kwargs)
    assert exc.value.code == code, exc.value.code


@pytest.mark.django_db
@pytest.mark.parametrize("party", ["buyer", "seller"])
@pytest.mark.parametrize("role", ["viewer", "approver"])
def test_a_member_of_either_party_cannot_give_the_final_approval(pending_approval, regulators, party, role):
    trade, req, buyer, seller = pending_approval()
    approval_approve(membership=regulators["operator_approver"], request_id=req.id)
    final = regulators["province_approver"]
    # the provincial approver also holds a seat (any role, even inactive) at one of the parties
    Membership.objects.create(user=final.user, organization=buyer if party == "buyer" else seller, role=role,
                              is_active=role == "viewer")
    _refused("approver_conflict_of_interest", membership=final, request_id=req.id)
    with pytest.raises(ApiError) as exc:
        approval_reject(membership=final, request_id=req.id, reason="x")
    assert exc.value.code == "approver_conflict_of_interest"
    trade.refresh_from_db()
    assert trade.status == "pending_approval"
    # someone without a seat at either party may
    approval_approve(membership=regulators["province_admin"], request_id=req.id)
    trade.refresh_from_db()
    assert trade.status == "approved"


@pytest.mark.django_db
def test_a_member_of_a_party_cannot_give_the_first_approval(pending_approval, regulators):
    trade, req, buyer, seller = pending_approval()
    first = regulators["operator_approver"]
    Membership.objects.create(user=first.user, organization=seller, role="admin")
    _refused("approver_conflict_of_interest", membership=first, request_id=req.id)
    assert not req.decisions.exists()


@pytest.mark.django_db
def test_two_memberships_of_one_person_are_one_approver(pending_approval, regulators):
    trade, req, buyer, seller = pending_approval()
    op = regulators["operator_approver"]
    second_seat = Membership.objects.create(user=op.user, organization=regulators["province"], role="approver")
    approval_approve(membership=op, request_id=req.id)
    _refused("already_approved", membership=second_seat, request_id=req.id)
    trade.refresh_from_db()
    assert trade.status == "pending_approval"
