"""Helpers of the listings tests (tests/listings/; their fixtures are in tests/listings/conftest.py).

`ListingWorld` (the `lworld` fixture): a county government holding 250 mu of farmland quota, an enterprise
holding emission rights, three buyer enterprises with cash, the exchange operator; `check_exposure()`
asserts, for every organization and asset of the world, that the ledger's held balance equals the listing
exposure (open listings' holds, active bids' holds, unsettled listing trades' escrow)."""
from __future__ import annotations

import itertools
from datetime import timedelta

from accounts.actor import Actor
from ledger.models import Account, Asset
from ledger.services import asset_create, cash_deposit, rights_issue
from marketplace.models import Rule, RulebookVersion
from marketplace.rules import RULES, BaseRule, Refusal, register_rule_code, rule
from trading.listings.services import db_now, exposure

from tests.support.ledger import balances

_seq = itertools.count(1)
FARMLAND_PROVENANCE = {"project_id": "MH-TD-2025-017", "acceptance_document": "侯自然资验〔2025〕12号"}
EMISSION_PROVENANCE = {"reduction_measure": "SCR 脱硝改造", "discharge_permit_no": "91350121MA2Y0000XA001P"}
YUAN = 100
CASH = 100_000_000 * YUAN  # ¥100m per buyer

TEST_RULE_CODE = register_rule_code("T-LISTING-001", "测试规则：拒绝", "Refused by the listing test rule")

if "test_listing_gate" not in RULES:
    @rule
    class ListingGate(BaseRule):
        """Test rule: refuses (or sends to approval) the given stages, optionally only for one buyer."""

        kind = "test_listing_gate"
        code = TEST_RULE_CODE

        def check(self, ctx):
            if ctx.stage not in self.params.get("stages", []):
                return None
            buyer = self.params.get("buyer")
            if buyer is not None and (ctx.buyer is None or ctx.buyer.id != buyer):
                return None
            return Refusal(self.code, needs_approval=self.params.get("approval", False), jurisdiction="350100")


def install_rule(**params) -> RulebookVersion:
    book = RulebookVersion.objects.create(version=9000 + next(_seq), effective_from=db_now() - timedelta(days=30))
    Rule.objects.create(rulebook=book, kind="test_listing_gate", params=params)
    return book


def make_right(make_org, *, right_type="farmland", subtype="quantity", unit="mu", scale=2, region="350121",
               basin=None) -> Asset:
    issuer = make_org("county_government", region)
    n = next(_seq)
    return asset_create(actor=Actor.system(), code=f"l-{right_type}-{subtype}-{n}", right_type_id=right_type,
                        subtype=subtype, unit=unit, scale=scale, vintage=2026, origin_region_id=region, issuer=issuer,
                        basin_id=basin)


def issue(asset: Asset, org, amount: int) -> None:
    key = f"lissue-{org.id}-{next(_seq)}"
    evidence = {"project_id": "MH-TD-2025-017", "area_mu": "250", "acceptance_document": "x"} \
        if asset.right_type_id == "farmland" else None
    rights_issue(actor=Actor.system(), issuer=asset.issuer, asset=asset, recipient=org, amount=amount,
                 idempotency_key=key, evidence=evidence)


def deposit(org, amount: int) -> None:
    key = f"ldeposit-{org.id}-{next(_seq)}"
    cash_deposit(actor=Actor.system(), organization=org, amount=amount, bank_reference=key, idempotency_key=key)


class ListingWorld:
    def __init__(self, make_org, make_member, operator_org):
        self.operator = operator_org
        self.county = make_org("county_government", "350121", name="闽侯县人民政府")
        self.factory = make_org("enterprise", "350121", name="闽侯某电厂")
        self.buyers = [make_org("enterprise", region, name=f"买方{i}")
                       for i, region in enumerate(("350102", "350203", "350583"), 1)]
        self.farmland = make_right(make_org)  # mu, 2 decimals
        self.so2 = make_right(make_org, right_type="emission", subtype="SO2", unit="t", scale=3)
        self.cny = Asset.objects.get(code="CNY")
        issue(self.farmland, self.county, 250_00)  # 250 mu
        issue(self.so2, self.factory, 100_000)  # 100 t
        for b in self.buyers:
            deposit(b, CASH)
        self._members = {}
        self._make_member = make_member

    @property
    def orgs(self):
        return [self.county, self.factory, *self.buyers, self.operator]

    @property
    def assets(self):
        return [self.farmland, self.so2, self.cny]

    def member(self, org, role="trader"):
        key = (org.id, role)
        if key not in self._members:
            self._members[key] = self._make_member(org, role)
        return self._members[key]

    def snapshot(self) -> dict:
        return {(o.id, a.id): balances(o, a) for o in self.orgs for a in self.assets}

    def check_exposure(self) -> None:
        for org in self.orgs:
            for asset in self.assets:
                held = balances(org, asset)[1]
                assert held == exposure(org.id, asset.id), (org.name_zh, asset.code, held, exposure(org.id, asset.id))
        # and no participant bucket anywhere went negative
        assert not Account.objects.filter(kind="participant", available__lt=0).exists()


def fee(value: int, bps: int = 10, minimum: int = 100 * YUAN) -> int:
    return max(minimum, -(-value * bps // 10_000)) if value else 0
