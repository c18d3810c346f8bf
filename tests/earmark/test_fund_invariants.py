"""Hypothesis: no payout can drain another fund. Random receipts into the three funds and random payouts
(any fund, any listed purpose, any amount) against an in-memory model: a payout succeeds exactly when its
purpose is one of its fund's and its fund alone holds the amount; after every step each fund's ledger
balance is the model's, so a payout never moved a fen of another fund; money is conserved (the payer's
cash + the funds + what was paid out is what was deposited) and the ledger verifies."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from ledger.earmark import EARMARK_PURPOSES, FUNDS, earmarked_payout, earmarked_report

from .conftest import cash, fund_balance, receive
from tests.support.celery import assert_ledger_verifies

_keys = itertools.count()
FUND_CODES = list(FUNDS)
STEPS = st.lists(st.one_of(
    st.tuples(st.just("receive"), st.sampled_from(FUND_CODES), st.integers(min_value=1, max_value=500_00),
              st.just("")),
    st.tuples(st.just("payout"), st.sampled_from(FUND_CODES), st.integers(min_value=1, max_value=800_00),
              st.sampled_from(sorted(EARMARK_PURPOSES)))), max_size=14)


@pytest.mark.django_db
def test_no_payout_drains_another_fund(world):
    deposited = cash(world.city)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.function_scoped_fixture])
    @given(steps=STEPS)
    def run(steps):
        model = {f: fund_balance(world.county, f) for f in FUNDS}
        for action, fund, amount, purpose in steps:
            if action == "receive":
                receive(world, fund, amount)
                model[fund] += amount
            else:
                others = {f: v for f, v in model.items() if f != fund}
                try:
                    earmarked_payout(actor=world.county_actor, organization=world.county, amount=amount,
                                     purpose_code=purpose, idempotency_key=f"hyp-{next(_keys)}", description="h",
                                     fund=fund)
                except DomainError as exc:
                    if purpose not in FUNDS[fund].purposes:
                        assert exc.code == "purpose_not_of_fund"
                    else:
                        assert exc.code == "insufficient_balance" and amount > model[fund]
                else:
                    assert purpose in FUNDS[fund].purposes and amount <= model[fund]
                    model[fund] -= amount
                assert {f: fund_balance(world.county, f) for f in others} == others
            assert {f: fund_balance(world.county, f) for f in FUNDS} == model

    run()
    paid_out = sum(r["paid_out"] for r in earmarked_report()
                   if r["organization"] == world.county.id)
    assert cash(world.city) + sum(fund_balance(world.county, f) for f in FUNDS) + paid_out == deposited
    assert_ledger_verifies()
