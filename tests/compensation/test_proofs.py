"""Settlement transactions are sealed like every ledger transaction: the payee fetches the transfer with an
inclusion proof that checks against the signed checkpoint (RFC 6962 hashing, re-computed here)."""
from __future__ import annotations

import time
from datetime import date

import pytest

from compensation import services
from compensation.models import Assessment
from ledger.models import LedgerTransaction
from ledger.sealing import seal
from tests.support.rfc9162 import verify_inclusion

from .conftest import approve_all, at, submit
from .test_cycle import GOOD


@pytest.fixture
def _forget_cny_after():
    """This test's database is flushed after it: forget the per-process CNY asset with it, so that a
    module-scoped fixture that runs next (the console's demo site) does not use the deleted row."""
    from ledger.services import forget_cached

    yield
    forget_cached()


def _seal_all():
    deadline = time.monotonic() + 60
    while LedgerTransaction.objects.filter(leaf__isnull=True).exists():
        seal()
        assert time.monotonic() < deadline
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_the_transfer_has_an_inclusion_proof(_forget_cny_after, world, agreement_in_force, client_for):
    w = world
    v = agreement_in_force(w)
    submit(w, GOOD)
    services.compensation_tick(now=at(date(2024, 1, 1)), today=date(2024, 1, 1))
    services.compensation_tick(now=at(date(2025, 1, 2)), today=date(2025, 1, 2))
    a = Assessment.objects.get(period__version=v)
    approve_all(w, a.approval, now=a.objection_until)
    a.refresh_from_db()
    _seal_all()
    body = client_for(w.up_admin).get(f"/api/v1/transactions/{a.settlement_transactions[0]}").json()
    assert body["kind"] == "compensation_transfer" and body["sealed"] is True
    proof = body["proof"]
    assert verify_inclusion(proof["leaf_index"], proof["tree_size"], bytes.fromhex(proof["leaf_hash"]),
                            [bytes.fromhex(h) for h in proof["audit_path"]], bytes.fromhex(proof["root_hash"]))
