import pytest

from accounts.actor import Actor
from ledger.models import Asset
from trading.models import Trade
from trading.orderbook.services import order_cancel, order_place
from trading.settlement.services import trade_settle

from tests.support.ledger import balances


@pytest.mark.django_db
def test_cross_and_settle(make_org, make_market, fund):
    market = make_market(fee_bps=10, fee_min=100)
    buyer, seller = make_org("enterprise", "350102"), make_org("enterprise", "350203")
    fund(buyer, cny=10_000_000_00)
    fund(seller, market=market, quantity=50_000)
    a = Actor.system()
    sell = order_place(actor=a, organization=seller, market_id=market.id, side="sell", price=2_850_000, quantity=10_000)
    assert sell.order.status == "open" and balances(seller, market.asset) == (40_000, 10_000)
    buy = order_place(actor=a, organization=buyer, market_id=market.id, side="buy", price=2_900_000, quantity=4_000)
    assert len(buy.trades) == 1
    t = buy.trades[0]
    assert t.price == 2_850_000 and t.quantity == 4_000 and t.value == 11_400_000
    assert trade_settle(trade_id=t.id) == "settled"
    assert balances(buyer, market.asset) == (4_000, 0)
    cny = Asset.objects.get(code="CNY")
    assert balances(buyer, cny)[1] == 0
    assert balances(buyer, cny)[0] == 10_000_000_00 - 11_400_000 - t.buyer_fee
    order_cancel(actor=a, organization=seller, order_id=sell.order.id)
    assert balances(seller, market.asset) == (46_000, 0)
    assert Trade.objects.get(pk=t.id).status == "settled"
