"""Approval requests open on the commit of the trade that needs one (a signal from trading, received by
oversight), not when somebody reads the approvals: a GET writes nothing. The beat task stays the backstop."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.actor import Actor
from accounts.models import AuditEvent
from marketplace.models import Rule, RulebookVersion
from oversight.approvals import approvals_sync
from oversight.models import ApprovalRequest
from trading.models import Trade, TradeStatus
from trading.orderbook.services import order_place

T = 1000  # one tonne in minor units (scale 3)


@pytest.fixture
def pending_cross(make_org, make_member, make_market, fund, operator_org):
    """A city-scope rule that asks for approval, and a function crossing one NOx lot across cities."""
    book = RulebookVersion.objects.create(version=RulebookVersion.objects.count() + 1,
                                          effective_from=timezone.now() - timedelta(days=1), description="t")
    Rule.objects.create(rulebook=book, kind="scope", params={"city": "approve"})
    market = make_market(subtype="NOx", region="350121")
    seller = make_org("enterprise", "350121", discharge_permit_no="P-seller")
    buyer = make_org("enterprise", "350902", discharge_permit_no="P-buyer")
    fund(seller, market=market, quantity=10 * T)
    fund(buyer, cny=10_000_000_00)

    def cross() -> Trade:
        for org, side in ((seller, "sell"), (buyer, "buy")):
            member = make_member(org, "trader")
            actor = Actor(user_id=member.user_id, organization_id=org.id, role="trader", organization_kind=org.kind)
            result = order_place(actor=actor, organization=org, market_id=market.id, side=side, price=3_425_000,
                                 quantity=T)
        (trade,) = result.trades
        assert trade.status == TradeStatus.PENDING_APPROVAL
        return trade

    cross.viewer = make_member(operator_org, "approver")
    return cross


@pytest.mark.django_db(transaction=True)
def test_the_commit_of_a_pending_trade_opens_its_approval(pending_cross):
    trade = pending_cross()  # order_place commits its own transaction: the signal has been sent
    request = ApprovalRequest.objects.get(trade=trade)
    assert request.required_approvals == 2 and request.rule_codes
    assert AuditEvent.objects.filter(action="approval.open", object_id=str(request.id)).exists()
    assert approvals_sync() == 0  # nothing left for the backstop


@pytest.mark.django_db
def test_reading_approvals_writes_nothing(pending_cross, client_for, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:  # committed, but the callbacks not yet run
        trade = pending_cross()
    client = client_for(pending_cross.viewer)
    for url in ("/api/v1/oversight/approvals", "/api/v1/oversight/reports/pending-approvals"):
        assert client.get(url).status_code == 200
    assert not ApprovalRequest.objects.filter(trade=trade).exists()  # no GET opened it
    for callback in callbacks:
        callback()
    assert ApprovalRequest.objects.filter(trade=trade).exists()  # the on-commit path did


@pytest.mark.django_db
def test_the_beat_backstop_opens_what_the_signal_missed(pending_cross, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():  # the signal is lost (say the process died after commit)
        trade = pending_cross()
    assert approvals_sync() == 1
    assert ApprovalRequest.objects.filter(trade=trade).exists()
