"""Random sequences of payment proposals, confirmations and rejections on one pair, against an in-memory
model: a proposal is refused exactly when it exceeds the payer's cash at that moment (pending proposals
reserve nothing), a confirmation exactly when it exceeds the cash then; money is conserved (what leaves the
payer's cash is what the payee's earmarked fund holds), the progress report's `paid` is the sum of the
confirmed payments, and every ledger transaction balances."""
from __future__ import annotations

import itertools
from datetime import date

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistance import services
from assistance.selectors import pair_progress
from core.errors import DomainError
from ledger.models import Account, LedgerTransaction, Posting
from ledger.services import cny

from .conftest import MINIMUM

TODAY = date(2026, 8, 1)
_keys = itertools.count()
STEPS = st.lists(st.one_of(
    st.tuples(st.just("propose"), st.integers(min_value=1, max_value=1_000_00)),
    st.tuples(st.sampled_from(["confirm", "reject"]), st.integers(min_value=0, max_value=50))), max_size=12)


def _cash(org, kind) -> int:
    acc = Account.objects.filter(organization=org, asset=cny(), kind=kind).first()
    return acc.available if acc else 0


@pytest.mark.django_db
def test_random_payment_sequences_keep_the_books(approved_pair):
    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(steps=STEPS, cash=st.integers(min_value=1, max_value=2_000_00))
    def run(steps, cash):
        ns = approved_pair(year=2026, cash=cash, minimum=MINIMUM)
        balance, confirmed, pending = cash, 0, []
        for action, value in steps:
            if action == "propose":
                try:
                    payment, _ = services.payment_propose(
                        membership=ns.payer.trader, idempotency_key=f"h{next(_keys)}", pair=ns.pair, year=2026,
                        amount=value, purpose_code="infrastructure", description="h", today=TODAY)
                except DomainError as exc:
                    assert exc.code == "insufficient_balance" and value > balance
                else:
                    assert value <= balance
                    pending.append(payment)
            elif pending:
                payment = pending.pop(value % len(pending))
                if action == "reject":
                    services.payment_reject(membership=ns.payer.approver, payment_id=payment.pk, reason="h")
                    continue
                try:
                    services.payment_confirm(membership=ns.payer.approver, payment_id=payment.pk)
                except DomainError as exc:
                    assert exc.code == "insufficient_balance" and payment.amount > balance
                else:
                    assert payment.amount <= balance
                    balance -= payment.amount
                    confirmed += payment.amount
        assert _cash(ns.payer.org, "participant") == balance == cash - confirmed
        assert _cash(ns.payee.org, "earmarked_assistance") == confirmed
        assert pair_progress(ns.pair, 2026, TODAY)["paid"] == confirmed
        txns = LedgerTransaction.objects.filter(kind="assistance_payment", request__pair=ns.pair.pk)
        assert txns.count() == ns.pair.payments.filter(status="confirmed").count()
        assert not Posting.objects.filter(transaction__in=txns).values("transaction_id").annotate(
            s=Sum("amount")).exclude(s=0).exists()

    run()
