"""Shared helpers of the rules and oversight tests (tests/marketplace/test_rules_* and tests/oversight/).

`install(*rules, effective_from=None)` writes a rulebook version (effective a day ago by default, so
orders placed now are checked against it; `at_now=True` for "the rulebook changed just now").
`World` (the `world` fixture of tests/marketplace and tests/oversight): the exchange operator, the
provincial, Fuzhou and Xiamen regulators with an approver each, and helpers to open markets, fund
organizations and place orders as a given membership."""
from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db.models import Max
from django.utils import timezone

from accounts.actor import Actor
from core.errors import ApiError
from ledger.models import Asset
from ledger.services import cash_deposit, rights_issue
from marketplace.models import Rule, RulebookVersion
from trading.orderbook.services import order_place

from tests.support.ledger import balances

_seq = itertools.count(1)
YUAN = 100
FARMLAND_EVIDENCE = {"project_id": "MH-TD-2025-017", "area_mu": "100", "acceptance_document": "侯自然资验〔2025〕12号"}


def install(*rules, at_now: bool = False, effective_from=None, description: str = "test") -> RulebookVersion:
    """A rulebook version with `rules` ((kind, params) pairs or {"kind", "params"} dicts)."""
    if effective_from is None:
        effective_from = timezone.now() if at_now else timezone.now() - timedelta(days=1)
    number = (RulebookVersion.objects.aggregate(m=Max("version"))["m"] or 0) + 1
    book = RulebookVersion.objects.create(version=number, effective_from=effective_from, description=description)
    for r in rules:
        kind, params = (r["kind"], r.get("params", {})) if isinstance(r, dict) else r
        Rule.objects.create(rulebook=book, kind=kind, params=params)
    return book


def actor_of(membership) -> Actor:
    return Actor(user_id=membership.user_id, organization_id=membership.organization_id, role=membership.role,
                 organization_kind=membership.organization.kind)


def cny() -> Asset:
    return Asset.objects.get(code="CNY")


def refused(code: str, fn, *args, **kwargs):
    with pytest.raises(ApiError) as exc:
        fn(*args, **kwargs)
    assert exc.value.code == code, exc.value.code
    return exc.value


class World:
    def __init__(self, make_org, make_member, make_market, operator_org):
        self.make_org, self.make_member, self.make_market = make_org, make_member, make_market
        self.operator = operator_org
        self.province = make_org("regulator", "350000", jurisdiction="350000", name="省生态环境厅")
        self.fuzhou = make_org("regulator", "350100", jurisdiction="350100", name="福州市生态环境局")
        self.xiamen = make_org("regulator", "350200", jurisdiction="350200", name="厦门市生态环境局")
        self.operator_approver = make_member(self.operator, "approver")
        self.operator_viewer = make_member(self.operator, "viewer")
        self.province_approver = make_member(self.province, "approver")
        self.province_admin = make_member(self.province, "admin")
        self.fuzhou_approver = make_member(self.fuzhou, "approver")
        self.xiamen_approver = make_member(self.xiamen, "approver")

    def enterprise(self, region="350102", *, permit=True, cny_yuan=10_000_000, **extra):
        org = self.make_org("enterprise", region, discharge_permit_no=f"P{next(_seq):08d}" if permit else "", **extra)
        org.trader = self.make_member(org, "trader")
        if cny_yuan:
            cash_deposit(actor=Actor.system(), organization=org, amount=cny_yuan * YUAN,
                         bank_reference=f"b{org.id}-{next(_seq)}", idempotency_key=f"dep-{org.id}-{next(_seq)}")
        return org

    def market(self, **kwargs):
        return self.make_market(**kwargs)

    def issue(self, market, org, quantity: int):
        evidence = FARMLAND_EVIDENCE if market.asset.right_type_id == "farmland" else None
        rights_issue(actor=Actor.system(), issuer=market.issuer, asset=market.asset, recipient=org, amount=quantity,
                     idempotency_key=f"iss-{org.id}-{next(_seq)}", evidence=evidence)

    def place(self, org, market, side, price, quantity, **kwargs):
        member = getattr(org, "trader", None)
        actor = actor_of(member) if member is not None else Actor.system()
        return order_place(actor=actor, organization=org, market_id=market.id, side=side, price=price,
                           quantity=quantity, **kwargs)

    def cross(self, seller, buyer, market, price, quantity):
        """A resting sell then a crossing buy; returns the buy's result (with its trades)."""
        self.place(seller, market, "sell", price, quantity)
        return self.place(buyer, market, "buy", price, quantity)


def assert_released(trade, buyer, seller, asset, *, buyer_cash: int, seller_rights: int):
    """Nothing held any more; everything back in the available buckets."""
    assert balances(buyer, cny()) == (buyer_cash, 0)
    assert balances(seller, asset) == (seller_rights, 0)
