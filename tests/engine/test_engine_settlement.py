"""Delivery versus payment inside the engine's batch (#19 item 1): a trade the engine matches on a
real-time market is settled in the batch's transaction, from the escrow its orders hold, under the
ledger key `settle:trade:<id>` — no outbox row, so neither the sweeper nor a duplicate nudge settles it
again, and `trade_settle` finds it settled. Trades that wait for a regulator's approval, and those of an
end-of-day market, go through the outbox as before. A batch whose settlement fails is taken again with
its trades left to the outbox. The ledger verifies clean throughout."""
from __future__ import annotations

from datetime import time
from unittest import mock

import pytest

from accounts.actor import Actor
from accounts.models import AuditEvent
from ledger.models import Asset, LedgerTransaction
from ledger.verify import verify_ledger
from marketplace.models import Market
from trading.models import Order, OrderRequest, SettlementOutbox, Trade
from trading.orderbook.engine import drain, order_accept
from trading.settlement import services as settlement
from trading.settlement.services import trade_approve, trade_settle
from trading.tasks.settlement import settlement_sweep

from tests.support.ledger import balances
from tests.support.rules import install

CASH, RIGHTS = 10_000_00, 50_000
pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_org, make_market, fund, operator_org, engine_mode, settings):
    settings.ENGINE_EAGER = False

    class W:
        pass

    w = W()
    w.market = make_market(subtype="NOx", tick_size=10, min_quantity=1000, fee_bps=20, fee_min=100, always_open=True)
    Market.objects.filter(pk=w.market.pk).update(reference_price=100_00)
    w.seller, w.buyer = make_org("enterprise", "350121"), make_org("enterprise", "350102")
    fund(w.buyer, cny=CASH)
    fund(w.seller, market=w.market, quantity=RIGHTS)
    w.cny = Asset.objects.get(code="CNY")

    def accept(org, side, quantity, price=100_00):
        return order_accept(actor=Actor.system(), organization=org, market_id=w.market.id, side=side, price=price,
                            quantity=quantity)

    w.accept = accept
    return w


def test_the_batch_settles_its_trades_exactly_once(world):
    w = world
    sell = w.accept(w.seller, "sell", 5_000)
    buy = w.accept(w.buyer, "buy", 3_000)
    journals = LedgerTransaction.objects.count()
    assert drain(w.market.id) == 2
    trade = Trade.objects.get()
    assert (trade.buy_order_id, trade.sell_order_id, trade.quantity) == (buy.id, sell.id, 3_000)
    assert trade.status == "settled" and trade.settled_at is not None
    txn = LedgerTransaction.objects.get(pk=trade.ledger_transaction_id)
    assert txn.idempotency_key == f"settle:trade:{trade.id}" and txn.kind == "settle"
    assert LedgerTransaction.objects.count() == journals + 1  # the settlement; no release (escrow exact)
    assert not SettlementOutbox.objects.filter(trade=trade).exists()  # nothing to send to settlement
    assert list(trade.events.order_by("id").values_list("status", flat=True)) == ["matched", "settling", "settled"]
    assert set(AuditEvent.objects.filter(object_type="trade", object_id=str(trade.id))
               .values_list("action", flat=True)) == {"trade.settling", "trade.settle"}
    # delivery versus payment: the buyer has the rights, the seller the cash less its fee, escrow gone
    assert balances(w.buyer, w.market.asset) == (3_000, 0)
    assert balances(w.buyer, w.cny) == (CASH - trade.value - trade.buyer_fee, 0)
    assert balances(w.seller, w.cny) == (trade.value - trade.seller_fee, 0)
    assert balances(w.seller, w.market.asset) == (RIGHTS - 5_000, 2_000)  # the open remainder's escrow
    assert Order.objects.get(pk=sell.id).hold_remaining == 2_000
    # exactly once: a late nudge, the sweeper and a second settle change nothing
    assert trade_settle(trade_id=trade.id) == "settled"
    assert settlement_sweep(after_seconds=0) == 0
    assert LedgerTransaction.objects.count() == journals + 1
    report = verify_ledger()
    assert report.ok, report


def test_approval_and_end_of_day_trades_settle_through_the_outbox(world, make_org, fund):
    w = world
    # a buyer of another city: the scope rule sends the trade to a regulator (S-SCOPE-002)
    install(("scope", {"right_types": ["emission"], "subtypes": ["NOx"], "city": "approve", "zone": "deny"}))
    far = make_org("enterprise", "350902")
    fund(far, cny=CASH)
    w.accept(w.seller, "sell", 2_000)
    w.accept(far, "buy", 2_000)
    drain(w.market.id)
    trade = Trade.objects.get()
    assert trade.status == "pending_approval" and trade.ledger_transaction_id is None
    assert balances(far, w.cny)[1] == trade.buyer_hold  # still in escrow
    assert trade_approve(trade_id=trade.id, actor=Actor.system()) == "approved"
    assert SettlementOutbox.objects.get(trade=trade).status == "pending"
    assert trade_settle(trade_id=trade.id) == "settled"
    assert SettlementOutbox.objects.get(trade=trade).status == "done"

    # an end-of-day market: the trade waits for the cut-off in the outbox
    Market.objects.filter(pk=w.market.pk).update(settlement_mode="eod", eod_cutoff=time(23, 59, 59))
    w.accept(w.seller, "sell", 1_000)
    w.accept(w.buyer, "buy", 1_000)
    drain(w.market.id)
    late = Trade.objects.exclude(pk=trade.pk).get()
    assert late.status == "matched"
    row = SettlementOutbox.objects.get(trade=late)
    assert row.status == "pending" and row.not_before is not None
    report = verify_ledger()
    assert report.ok, report


def test_a_failed_settlement_leaves_the_batch_to_the_outbox(world):
    w = world
    w.accept(w.seller, "sell", 1_000)
    w.accept(w.buyer, "buy", 1_000)
    with mock.patch.object(settlement, "settle_write", side_effect=settlement.EscrowShort([], RuntimeError("x"))):
        assert drain(w.market.id) == 2  # the batch went again without settling
    trade = Trade.objects.get()
    assert trade.status == "matched" and not OrderRequest.objects.exists()
    assert SettlementOutbox.objects.get(trade=trade).status == "pending"
    assert trade_settle(trade_id=trade.id) == "settled"  # what the outbox's worker does


def test_switched_off_the_engine_leaves_settlement_to_the_outbox(world, settings):
    settings.ENGINE_SETTLE = False
    w = world
    w.accept(w.seller, "sell", 1_000)
    w.accept(w.buyer, "buy", 1_000)
    drain(w.market.id)
    trade = Trade.objects.get()
    assert trade.status == "matched" and SettlementOutbox.objects.get(trade=trade).status == "pending"
