"""A settlement task settles its own trade and due companions of its queue in one database
transaction; each trade is still its own ledger transaction, settled once, and a companion that
raises is rolled back alone."""
import pytest

from accounts.actor import Actor
from ledger.models import LedgerTransaction
from trading import settlement
from trading.models import SettlementOutbox, Trade
from trading.services import order_place
from trading.settlement import trade_settle_with_companions

SYSTEM = Actor.system()


@pytest.fixture
def matched_trades(make_org, make_market, fund, operator_org):
    market = make_market(fee_bps=10, fee_min=100)
    buyer, seller = make_org("enterprise", "350102"), make_org("enterprise", "350203")
    fund(buyer, cny=10_000_000_00)
    fund(seller, market=market, quantity=100_000)
    ids = []
    for _ in range(5):
        order_place(actor=SYSTEM, organization=seller, market_id=market.id, side="sell", price=10_000, quantity=1000)
        ids += [t.id for t in order_place(actor=SYSTEM, organization=buyer, market_id=market.id, side="buy",
                                          price=10_000, quantity=1000).trades]
    return ids


def _settles(trade_ids):
    return {int(r) for r in LedgerTransaction.objects.filter(kind="settle", reference_type="trade")
            .values_list("reference_id", flat=True)} & set(trade_ids)


@pytest.mark.django_db
def test_companions_settle_in_the_same_transaction_once_each(matched_trades):
    first, *rest = matched_trades
    assert trade_settle_with_companions(trade_id=first, companions=3) == "settled"
    assert _settles(matched_trades) == {first, *rest[:3]}
    assert not SettlementOutbox.objects.filter(trade_id__in=[first, *rest[:3]], status="pending").exists()
    # their own messages arrive later and change nothing
    for trade_id in [first, *rest[:3]]:
        assert settlement.trade_settle(trade_id=trade_id) == "settled"
    assert LedgerTransaction.objects.filter(kind="settle").count() == 4
    assert Trade.objects.get(pk=rest[3]).status == "matched"


@pytest.mark.django_db
def test_a_companion_that_raises_is_rolled_back_alone(matched_trades, monkeypatch):
    first, bad, *good = matched_trades
    real = settlement._settle

    def flaky(trade_id, now):
        if trade_id == bad:
            real(trade_id, now)  # writes, then fails: its savepoint must undo the writes
            raise RuntimeError("poison")
        return real(trade_id, now)

    monkeypatch.setattr(settlement, "_settle", flaky)
    trade_settle_with_companions(trade_id=first, companions=10)
    assert _settles(matched_trades) == {first, *good}
    assert Trade.objects.get(pk=bad).status == "matched"
    assert SettlementOutbox.objects.get(trade_id=bad).status == "pending"
