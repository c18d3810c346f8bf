"""Four-eyes approvals: the proposer cannot approve, one approval is not enough, the final approval comes
from the regulator of the named jurisdiction; escalation at half-time; expiry rejects and releases
holds; the public notice (公示) holds water trades and lets a regulator object."""
from datetime import timedelta

import pytest
from django.db import DatabaseError, transaction

from accounts.models import AuditEvent
from core.errors import ApiError
from oversight.approvals import (
    add_working_days,
    approval_approve,
    approval_object,
    approval_reject,
    approvals_sync,
    approvals_tick,
)
from oversight.models import Alert, ApprovalDecision, ApprovalRequest
from trading.models import Trade
from trading.settlement.services import trade_settle

from tests.support.ledger import balances
from tests.support.rules import YUAN, cny, install

T = 1000
CASH = 10_000_000 * YUAN
SCOPE = ("scope", {"right_types": ["emission"], "city": "approve", "zone": "deny"})


def pending_trade(world, *, proposer_is_operator_approver=False):
    """A trade from Minhou (Fuzhou) to Ningde: crosses a city line inside the zone, so the province must
    approve. Returns (trade, request, buyer, seller, market)."""
    install(SCOPE)
    m = world.market(subtype="NOx", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 10 * T)
    buyer = world.enterprise("350902")
    if proposer_is_operator_approver:
        # the buyer's trader also has an approver seat at the exchange operator
        from accounts.models import Membership

        Membership.objects.create(user=buyer.trader.user, organization=world.operator, role="approver")
    trade = world.cross(seller, buyer, m, 3_425_000, T).trades[0]
    assert trade.status == "pending_approval"
    assert approvals_sync() == 1
    return trade, ApprovalRequest.objects.get(trade=trade), buyer, seller, m


def membership_in(world, org, user):
    from accounts.models import Membership

    return Membership.objects.get(user=user, organization=org)


@pytest.mark.django_db
def test_request_records_rules_jurisdiction_deadline_and_proposers(world):
    trade, req, buyer, seller, m = pending_trade(world)
    assert req.status == "pending" and req.rule_codes == ["S-SCOPE-002"] and req.jurisdiction == "350000"
    assert req.required_approvals == 2 and req.notice_until is None
    assert req.deadline == add_working_days(req.pending_since, 2)
    assert req.escalate_at == req.pending_since + (req.deadline - req.pending_since) / 2
    assert set(req.proposer_user_ids) == {buyer.trader.user_id, seller.trader.user_id}
    assert approvals_sync() == 0  # idempotent
    assert AuditEvent.objects.filter(action="approval.open", object_id=str(req.id)).exists()
    # settling does nothing while the trade waits
    assert trade_settle(trade_id=trade.id) == "pending_approval"


@pytest.mark.django_db
def test_four_eyes(world):
    trade, req, buyer, seller, m = pending_trade(world, proposer_is_operator_approver=True)
    proposer = membership_in(world, world.operator, buyer.trader.user)
    with pytest.raises(ApiError) as exc:
        approval_approve(membership=proposer, request_id=req.id)
    assert exc.value.code == "proposer_cannot_approve"

    # a viewer may not decide
    with pytest.raises(ApiError) as exc:
        approval_approve(membership=world.operator_viewer, request_id=req.id)
    assert exc.value.code == "not_an_approver"

    # the first approval: the operator's approver. One approval is not enough.
    approval_approve(membership=world.operator_approver, request_id=req.id, comment="looks fine")
    trade.refresh_from_db()
    req.refresh_from_db()
    assert trade.status == "pending_approval" and req.status == "pending" and req.approvals_completed_at is None
    assert approvals_tick()["released"] == 0
    assert trade_settle(trade_id=trade.id) == "pending_approval"

    # the same person twice is refused
    with pytest.raises(ApiError) as exc:
        approval_approve(membership=world.operator_approver, request_id=req.id)
    assert exc.value.code == "already_approved"

    # the second must come from the named jurisdiction (the province), not Fuzhou's regulator
    with pytest.raises(ApiError) as exc:
        approval_approve(membership=world.fuzhou_approver, request_id=req.id)
    assert exc.value.code == "approver_not_in_jurisdiction"
    # Xiamen's regulator does not even see this trade
    with pytest.raises(ApiError) as exc:
        approval_approve(membership=world.xiamen_approver, request_id=req.id)
    assert exc.value.code == "not_found"

    approval_approve(membership=world.province_approver, request_id=req.id)
    req.refresh_from_db()
    trade.refresh_from_db()
    assert req.status == "approved" and trade.status == "approved"
    assert list(req.decisions.values_list("decision", "user_id")) == [
        ("approve", world.operator_approver.user_id), ("approve", world.province_approver.user_id)]
    assert trade_settle(trade_id=trade.id) == "settled"
    assert balances(buyer, m.asset) == (T, 0)
    with pytest.raises(ApiError) as exc:
        approval_approve(membership=world.province_admin, request_id=req.id)
    assert exc.value.code == "approval_closed"


@pytest.mark.django_db
def test_two_approvals_from_the_named_regulator_are_two_people(world):
    trade, req, *_ = pending_trade(world)
    approval_approve(membership=world.province_approver, request_id=req.id)
    approval_approve(membership=world.province_admin, request_id=req.id)
    trade.refresh_from_db()
    assert trade.status == "approved"


@pytest.mark.django_db
def test_reject_releases_holds(world):
    trade, req, buyer, seller, m = pending_trade(world)
    with pytest.raises(ApiError) as exc:
        approval_reject(membership=membership_in(world, buyer, buyer.trader.user), request_id=req.id, reason="x")
    assert exc.value.code == "proposer_cannot_approve"
    approval_reject(membership=world.fuzhou_approver, request_id=req.id, reason="凭证不全")
    trade.refresh_from_db()
    req.refresh_from_db()
    assert trade.status == "rejected" and req.status == "rejected"
    assert balances(buyer, cny()) == (CASH, 0) and balances(seller, m.asset) == (10 * T, 0)


@pytest.mark.django_db
def test_escalation_at_half_time_and_expiry_rejects_and_releases(world):
    trade, req, buyer, seller, m = pending_trade(world)
    approval_approve(membership=world.operator_approver, request_id=req.id)  # one is not enough
    assert approvals_tick(now=req.escalate_at - timedelta(seconds=1))["escalated"] == 0
    out = approvals_tick(now=req.escalate_at + timedelta(seconds=1))
    assert out["escalated"] == 1 and out["expired"] == 0
    assert AuditEvent.objects.filter(action="approval.escalate", object_id=str(req.id)).exists()
    alert = Alert.objects.get(kind="approval_overdue")
    assert alert.trade_ids == [trade.id] and alert.evidence["approvals"] == 1
    assert approvals_tick(now=req.escalate_at + timedelta(seconds=2))["escalated"] == 0  # once

    out = approvals_tick(now=req.deadline + timedelta(seconds=1))
    assert out["expired"] == 1
    trade.refresh_from_db()
    req.refresh_from_db()
    assert trade.status == "rejected" and trade.failure_reason == "approval_expired"
    assert req.status == "expired"
    assert balances(buyer, cny()) == (CASH, 0) and balances(seller, m.asset) == (10 * T, 0)
    with pytest.raises(ApiError) as exc:
        approval_approve(membership=world.province_approver, request_id=req.id)
    assert exc.value.code == "approval_closed"


@pytest.mark.django_db
def test_deadline_counts_working_days():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from marketplace.models import Holiday

    tz = ZoneInfo("Asia/Shanghai")
    friday = datetime(2026, 5, 8, 10, 0, tzinfo=tz)
    assert add_working_days(friday, 2) == datetime(2026, 5, 12, 10, 0, tzinfo=tz)  # Tue
    Holiday.objects.create(date=datetime(2026, 5, 11).date(), name="test")
    assert add_working_days(friday, 2) == datetime(2026, 5, 13, 10, 0, tzinfo=tz)


def water_trade(world, days=5):
    install(("basin", {}), ("public_notice", {"days": days}))
    m = world.market(right_type="water", subtype="surface", unit="m3", scale=0, region="350121", basin="minjiang")
    seller = world.enterprise("350121")
    world.issue(m, seller, 100_000)
    buyer = world.enterprise("350102")
    trade = world.cross(seller, buyer, m, 93, 10_000).trades[0]
    assert trade.status == "pending_approval"
    approvals_sync()
    return trade, ApprovalRequest.objects.get(trade=trade), buyer, seller, m


@pytest.mark.django_db
def test_public_notice_then_settlement(world):
    trade, req, buyer, seller, m = water_trade(world)
    assert req.required_approvals == 0 and req.rule_codes == ["W-NOTICE-001"]
    assert req.notice_until == req.pending_since + timedelta(days=5) and req.deadline is None
    with pytest.raises(ApiError) as exc:
        approval_approve(membership=world.province_approver, request_id=req.id)
    assert exc.value.code == "no_approval_needed"
    assert approvals_tick(now=req.notice_until - timedelta(minutes=1))["released"] == 0
    trade.refresh_from_db()
    assert trade.status == "pending_approval"
    assert approvals_tick(now=req.notice_until + timedelta(seconds=1))["released"] == 1
    trade.refresh_from_db()
    req.refresh_from_db()
    assert trade.status == "approved" and req.status == "approved"
    assert trade_settle(trade_id=trade.id) == "settled"
    assert balances(buyer, m.asset) == (10_000, 0)


@pytest.mark.django_db
def test_objection_during_notice_rejects(world):
    trade, req, buyer, seller, m = water_trade(world)
    with pytest.raises(ApiError) as exc:
        approval_object(membership=world.operator_approver, request_id=req.id, reason="x")
    assert exc.value.code == "only_regulator_objects"
    approval_object(membership=world.fuzhou_approver, request_id=req.id, reason="影响下游生态流量")
    trade.refresh_from_db()
    req.refresh_from_db()
    assert trade.status == "rejected" and req.status == "rejected"
    assert trade.failure_reason.startswith("public_notice_objection")
    assert balances(buyer, cny()) == (CASH, 0) and balances(seller, m.asset) == (100_000, 0)


@pytest.mark.django_db
def test_objection_after_notice_is_refused(world):
    trade, req, *_ = water_trade(world)
    with pytest.raises(ApiError) as exc:
        approval_object(membership=world.fuzhou_approver, request_id=req.id, reason="late",
                        now=req.notice_until + timedelta(seconds=1))
    assert exc.value.code == "not_in_public_notice"


@pytest.mark.django_db
def test_notice_and_approval_together(world):
    """An inter-basin water transfer needs both: approvals, then the end of the notice."""
    install(("basin", {}), ("inter_basin_transfer", {"from_basin": "minjiang", "to_basin": "jiulongjiang",
                                                    "approver": "350200"}), ("public_notice", {"days": 5}))
    m = world.market(right_type="water", subtype="surface", unit="m3", scale=0, region="350121", basin="minjiang")
    seller = world.enterprise("350121")
    world.issue(m, seller, 100_000)
    trade = world.cross(seller, world.enterprise("350203"), m, 93, 10_000).trades[0]
    approvals_sync()
    req = ApprovalRequest.objects.get(trade=trade)
    assert req.rule_codes == ["W-BASIN-002", "W-NOTICE-001"] and req.jurisdiction == "350200"
    approval_approve(membership=world.fuzhou_approver, request_id=req.id)
    approval_approve(membership=world.xiamen_approver, request_id=req.id)
    req.refresh_from_db()
    trade.refresh_from_db()
    assert req.approvals_completed_at and req.status == "pending" and trade.status == "pending_approval"
    # approvals complete: the deadline no longer applies, the notice still does
    assert approvals_tick(now=req.deadline + timedelta(seconds=1)) == {
        "opened": 0, "escalated": 0, "expired": 0, "released": 0, "cancelled": 0}
    approvals_tick(now=req.notice_until + timedelta(seconds=1))
    trade.refresh_from_db()
    assert trade.status == "approved"


@pytest.mark.django_db
def test_trade_sent_to_approval_at_settlement_gets_a_request(world):
    m = world.market(subtype="NOx", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 10 * T)
    trade = world.cross(seller, world.enterprise("350902"), m, 3_425_000, T).trades[0]
    assert trade.status == "matched"
    install(SCOPE, at_now=True)
    assert trade_settle(trade_id=trade.id) == "pending_approval"
    assert approvals_sync() == 1
    req = ApprovalRequest.objects.get(trade=trade)
    assert req.rule_codes == ["S-SCOPE-002"] and req.jurisdiction == "350000"


@pytest.mark.django_db
def test_request_cancelled_when_trade_ends_otherwise(world):
    from trading.settlement.services import trade_fail

    trade, req, *_ = pending_trade(world)
    trade_fail(trade_id=trade.id, reason="operator")
    assert approvals_tick()["cancelled"] == 1
    req.refresh_from_db()
    assert req.status == "cancelled"


@pytest.mark.django_db
def test_decisions_are_append_only(world):
    trade, req, *_ = pending_trade(world)
    approval_approve(membership=world.operator_approver, request_id=req.id)
    with pytest.raises(DatabaseError), transaction.atomic():
        ApprovalDecision.objects.filter(request=req).update(reason="edited")
    with pytest.raises(DatabaseError), transaction.atomic():
        ApprovalDecision.objects.filter(request=req).delete()
    assert Trade.objects.get(pk=trade.id).status == "pending_approval"
