"""Fixtures of the oversight tests (approvals, reports, surveillance, the oversight API): `world`, the
regulators and the operator of tests/support/rules.py; `pending_approval` makes a trade the rulebook holds
for two approvals (a cross-city NOx trade from Minhou to Ningde, the province approving) and opens its
request."""
from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db.models import Max
from django.utils import timezone

from accounts.actor import Actor
from marketplace.models import Rule, RulebookVersion
from oversight.approvals import approvals_sync
from oversight.models import ApprovalRequest
from trading.orderbook.services import order_place

from tests.support.rules import World

_seq = itertools.count(1)


@pytest.fixture
def world(make_org, make_member, make_market, operator_org, fast_passwords):
    return World(make_org, make_member, make_market, operator_org)


@pytest.fixture
def pending_approval(make_org, make_member, make_market, fund, operator_org, fast_passwords):
    def factory():
        number = (RulebookVersion.objects.aggregate(m=Max("version"))["m"] or 0) + 1
        book = RulebookVersion.objects.create(version=number, effective_from=timezone.now() - timedelta(days=1))
        Rule.objects.create(rulebook=book, kind="scope",
                            params={"right_types": ["emission"], "city": "approve", "zone": "deny"})
        market = make_market(subtype="NOx", region="350121")
        seller = make_org("enterprise", "350121", discharge_permit_no=f"P{next(_seq):08d}")
        buyer = make_org("enterprise", "350902", discharge_permit_no=f"P{next(_seq):08d}")
        fund(buyer, cny=10_000_000_00)
        fund(seller, market=market, quantity=10_000)
        for org in (buyer, seller):
            org.trader = make_member(org, "trader")
        place = dict(market_id=market.id, price=3_425_000, quantity=1000)
        order_place(actor=Actor(user_id=seller.trader.user_id, organization_id=seller.id, role="trader",
                                organization_kind="enterprise"), organization=seller, side="sell", **place)
        trade = order_place(actor=Actor(user_id=buyer.trader.user_id, organization_id=buyer.id, role="trader",
                                        organization_kind="enterprise"), organization=buyer, side="buy",
                            **place).trades[0]
        assert trade.status == "pending_approval"
        approvals_sync()
        return trade, ApprovalRequest.objects.get(trade=trade), buyer, seller

    return factory
