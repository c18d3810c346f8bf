"""Fixtures of the assistance tests: `govs` (a government with an admin, a trader and an approver),
`prov` (the provincial regulator: an admin and an approver), `approved_pair` (a pair whose version 1 the
provincial regulator approved), `farmland_trade` (a settled farmland-quota trade between two parties)."""
from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from accounts.actor import Actor
from assistance import services
from ledger.services import cash_deposit, rights_issue
from trading.orderbook.services import order_place
from trading.settlement.services import trade_settle

_seq = itertools.count(1)
YUAN = 100
MINIMUM = 12_000_000_00  # the plan's floor, in fen


@pytest.fixture
def govs(make_org, make_member, fast_passwords):
    def factory(region="350203", kind="county_government", cash: int = 0):
        org = make_org(kind, region)
        ns = SimpleNamespace(org=org, admin=make_member(org, "admin"), trader=make_member(org, "trader"),
                             approver=make_member(org, "approver"))
        if cash:
            key = f"asst-dep-{next(_seq)}"
            cash_deposit(actor=Actor.system(), organization=org, amount=cash, bank_reference=key, idempotency_key=key)
        return ns

    return factory


@pytest.fixture
def prov(make_org, make_member, fast_passwords):
    org = make_org("regulator", "350000", jurisdiction="350000")
    return SimpleNamespace(org=org, admin=make_member(org, "admin"), approver=make_member(org, "approver"))


@pytest.fixture
def approved_pair(govs, prov):
    def factory(*, payer_region="350203", payee_region="350724", minimum=MINIMUM, year=2025, cash=0):
        payer, payee = govs(payer_region, cash=cash), govs(payee_region)
        agreement = services.pair_propose(membership=payer.admin, payer=payer.org, payee=payee.org,
                                          annual_minimum=minimum, effective_year=year, description="test")
        services.agreement_approve(membership=prov.approver, agreement_id=agreement.pk)
        return SimpleNamespace(pair=agreement.pair, agreement=agreement, payer=payer, payee=payee)

    return factory


def pay(pair_ns, amount: int, *, year: int, today=None, purpose="industry_transfer"):
    """Propose (payer's trader) and confirm (payer's approver) a payment; returns the payment."""
    payment, _ = services.payment_propose(membership=pair_ns.payer.trader, idempotency_key=f"k{next(_seq)}",
                                          pair=pair_ns.pair, year=year, amount=amount, purpose_code=purpose,
                                          description="帮扶资金", today=today)
    payment, _ = services.payment_confirm(membership=pair_ns.payer.approver, payment_id=payment.pk)
    return payment


@pytest.fixture
def farmland_trade(make_market, govs):
    """A settled trade of 10 mu of a Songxi farmland quota: `seller` (the issuing county) → `buyer`."""

    def factory(buyer=None):
        market = make_market(right_type="farmland", subtype="quantity", unit="mu", scale=2, region="350724")
        seller = SimpleNamespace(org=market.issuer)
        buyer = buyer or govs("350203", cash=10_000_000 * YUAN)
        rights_issue(actor=Actor.system(), issuer=market.issuer, asset=market.asset, recipient=market.issuer,
                     amount=100_00, idempotency_key=f"asst-fl-{next(_seq)}",
                     evidence={"project_id": "P-1", "area_mu": "100", "acceptance_document": "验收-1"})
        place = dict(market_id=market.id, price=50_000 * YUAN, quantity=10_00)
        order_place(actor=Actor(user_id=None, organization_id=seller.org.id, role="trader",
                                organization_kind=seller.org.kind), organization=seller.org, side="sell", **place)
        trade = order_place(actor=Actor(user_id=buyer.trader.user_id, organization_id=buyer.org.id, role="trader",
                                        organization_kind=buyer.org.kind), organization=buyer.org, side="buy",
                            **place).trades[0]
        assert trade_settle(trade_id=trade.id) == "settled"
        trade.refresh_from_db()
        return SimpleNamespace(trade=trade, buyer=buyer, seller=seller, market=market)

    return factory
