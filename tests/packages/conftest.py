"""Fixtures of the package-bid tests: `pworld`, three order-book markets of one city (SO2 and NOx in
tonnes, energy-use rights in tce; scale 3, lot 1 unit, fees 0.2 % min ¥1) with two sellers' asks resting at
several prices, a fixed-price SO2 listing, and a buyer with cash."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from accounts.actor import Actor
from ledger.models import Account, Asset
from trading.listings.services import listing_create
from trading.orderbook.services import order_place

from tests.support.listings import EMISSION_PROVENANCE

UNIT = 1000  # minor units per whole unit (scale 3)
YUAN = 100
CASH = 10_000_000 * YUAN
RIGHTS = 10_000 * UNIT


@dataclass
class PackageWorld:
    markets: list
    sellers: list
    buyer: object
    listing: object
    operator: object

    def cash(self, org):
        cny = Asset.objects.get(code="CNY")
        acc = Account.objects.filter(organization=org, asset=cny, kind="participant").first()
        return (acc.available, acc.held) if acc else (0, 0)

    def rights(self, org, asset_id):
        acc = Account.objects.filter(organization=org, asset_id=asset_id, kind="participant").first()
        return (acc.available, acc.held) if acc else (0, 0)


@pytest.fixture
def pworld(make_org, make_market, fund, operator_org):
    markets = [make_market(subtype="SO2", region="350121", fee_bps=20, fee_min=100),
               make_market(subtype="NOx", region="350121", fee_bps=20, fee_min=100),
               make_market(right_type="energy", subtype="", unit="tce", region="350121", fee_bps=20, fee_min=100)]
    sellers = [make_org("enterprise", "350121"), make_org("enterprise", "350122")]
    buyer = make_org("enterprise", "350102")
    fund(buyer, cny=CASH)
    for seller in sellers:
        fund(seller, cny=CASH)
        for m in markets:
            fund(seller, market=m, quantity=RIGHTS)
    # asks: seller 0 at 100, 102 yuan; seller 1 at 101, 105 yuan; 10 units each, on every market
    for m in markets:
        for seller, prices in ((sellers[0], (100, 102)), (sellers[1], (101, 105))):
            for p in prices:
                order_place(actor=Actor.system(), organization=seller, market_id=m.id, side="sell", price=p * YUAN,
                            quantity=10 * UNIT)
    listing = listing_create(actor=Actor.system(), seller=sellers[0], kind="fixed_price", asset_id=markets[0].asset_id,
                             quantity=30 * UNIT, price=98 * YUAN, divisible=True,
                             provenance=EMISSION_PROVENANCE)
    return PackageWorld(markets=markets, sellers=sellers, buyer=buyer, listing=listing, operator=operator_org)
