"""Packages and ordinary orders on the same markets at once, from threads with their own database
connections (real row locks, committed transactions): packages take every market they touch in id order,
whatever the order of their legs, so nothing deadlocks; afterwards no package is partly filled, nothing
is left held for a package, nothing is negative and cash is conserved."""
from __future__ import annotations

import random
import threading

import pytest
from django.db import connections
from django.db.models import Q, Sum

from accounts.actor import Actor
from core.errors import DomainError
from ledger.models import Account
from trading.models import Order, Package, Trade
from trading.orderbook.services import order_cancel, order_place
from trading.packages.services import LegSpec, package_place
from trading.settlement import outbox

from .conftest import UNIT, YUAN

EXPECTED = {"insufficient_balance", "order_not_open", "not_found"}


@pytest.fixture
def no_broker(monkeypatch):
    monkeypatch.setattr(outbox, "send_settlement", lambda trade_id, queue: True)


def _client(i, w, barrier, errors, ops):
    rng = random.Random(i)
    actor = Actor.system()
    try:
        barrier.wait()
        for _ in range(ops):
            try:
                r = rng.random()
                if r < 0.4:
                    chosen = rng.sample(w.markets, rng.randint(2, 3))  # legs in a random order
                    package_place(actor=actor, buyer=w.buyer if i % 2 else w.sellers[1],
                                  legs=[LegSpec(market_id=m.id, quantity=rng.randint(1, 8) * UNIT,
                                                limit_price=rng.randint(99, 106) * YUAN) for m in chosen])
                elif r < 0.85:
                    org = rng.choice(w.sellers)
                    order_place(actor=actor, organization=org, market_id=rng.choice(w.markets).id,
                                side=rng.choice(["buy", "sell", "sell"]), price=rng.randint(98, 106) * YUAN,
                                quantity=rng.randint(1, 6) * UNIT)
                else:
                    mine = list(Order.objects.filter(status="open").values_list("id", "organization_id")[:20])
                    if mine:
                        order_id, org_id = rng.choice(mine)
                        org = next(o for o in w.sellers + [w.buyer] if o.id == org_id)
                        order_cancel(actor=actor, organization=org, order_id=order_id)
            except DomainError as exc:
                if exc.code not in EXPECTED:
                    errors.append(f"client {i}: {exc.code}")
    except Exception as exc:  # noqa: BLE001 - a deadlock lands here
        errors.append(f"client {i}: {type(exc).__name__}: {exc}")
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_packages_and_orders_on_the_same_markets_do_not_deadlock(pworld, no_broker):
    w = pworld
    cash_before = Account.objects.filter(asset__code="CNY").exclude(kind="issuance").aggregate(
        s=Sum("available") + Sum("held"))["s"]
    threads, errors = 8, []
    barrier = threading.Barrier(threads)
    workers = [threading.Thread(target=_client, args=(i, w, barrier, errors, 25)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in workers), "a client hung"
    assert not errors, errors
    packages = Package.objects.all()
    assert packages.filter(status="filled").exists() and packages.count() > 20
    for p in packages.prefetch_related("legs"):
        filled = [leg.filled_quantity == leg.quantity for leg in p.legs.all()]
        assert all(filled) if p.status == "filled" else not any(leg.filled_quantity for leg in p.legs.all())
        bought = Trade.objects.filter(ledger_transaction_id=p.settle_transaction_id).aggregate(
            q=Sum("quantity"))["q"] if p.settle_transaction_id else None
        assert p.status != "filled" or bought == sum(leg.quantity for leg in p.legs.all())
    assert not Account.objects.filter(Q(available__lt=0) | Q(held__lt=0)).exclude(kind="issuance").exists()
    # the buyer only ever placed packages: nothing of its cash is left held
    assert w.cash(w.buyer)[1] == 0
    cash_after = Account.objects.filter(asset__code="CNY").exclude(kind="issuance").aggregate(
        s=Sum("available") + Sum("held"))["s"]
    assert cash_after == cash_before
