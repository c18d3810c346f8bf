"""Random sequences of issue / deposit / withdraw / hold / release / transfer / retire (and replays of
earlier requests) against the real services and database, compared step by step with an in-memory
model. After every step: the database agrees with the model, every asset sums to zero, no participant
bucket is negative, and every balance equals the sum of its postings. Each refusal must be exactly the
one the model predicts."""
import itertools
from collections import defaultdict

import pytest
from django.db import connection
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from accounts.actor import Actor
from core.errors import ApiError
from ledger import services
from ledger.models import Account, Asset

ORGS = 3
_runs = itertools.count()


def global_invariants():
    with connection.cursor() as cur:
        cur.execute("SELECT asset_id, sum(available + held) FROM ledger_account GROUP BY asset_id "
                    "HAVING sum(available + held) <> 0")
        assert cur.fetchall() == [], "an asset does not sum to zero"
        cur.execute("SELECT id FROM ledger_account WHERE kind <> 'issuance' AND (available < 0 OR held < 0)")
        assert cur.fetchall() == [], "a negative balance"
        cur.execute("""SELECT a.id FROM ledger_account a LEFT JOIN (
                           SELECT account_id, sum(amount) FILTER (WHERE bucket = 'A') AS av,
                                  sum(amount) FILTER (WHERE bucket = 'H') AS he
                             FROM ledger_posting GROUP BY account_id) s ON s.account_id = a.id
                        WHERE a.available <> coalesce(s.av, 0) OR a.held <> coalesce(s.he, 0)""")
        assert cur.fetchall() == [], "a balance differs from its postings"
        cur.execute("""SELECT t.id FROM ledger_ledgertransaction t JOIN ledger_posting p ON p.transaction_id = t.id
                        GROUP BY t.id, p.asset_id HAVING sum(p.amount) <> 0""")
        assert cur.fetchall() == [], "an unbalanced transaction"


@pytest.mark.django_db(transaction=True)
def test_random_sequences_keep_the_invariants(make_org):
    actor = Actor.system()
    county = make_org("county_government", "350121")
    cny = Asset.objects.get(code="CNY")
    amounts = st.integers(min_value=1, max_value=5_000)
    org_index = st.integers(min_value=0, max_value=ORGS - 1)
    asset_name = st.sampled_from(["CNY", "SO2"])

    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            # the database persists across examples: each example gets its own organizations and
            # instrument, so that its outcome depends on its draws only (hypothesis replays examples)
            self.run = next(_runs)
            self.orgs = [make_org("enterprise", "350121") for _ in range(ORGS)]
            self.so2 = services.asset_create(actor=actor, code=f"EM-SO2-2026-350121-SM{self.run}",
                                             right_type_id="emission", subtype="SO2", unit="t", scale=3,
                                             vintage=2026, origin_region_id="350121", issuer=county)
            self.assets = {"SO2": self.so2, "CNY": cny}
            self.seq = itertools.count()
            self.done = []  # (service, kwargs, transaction id) of successful calls, for replays
            self.model = defaultdict(lambda: [0, 0])
            self.retired = 0

        @staticmethod
        def _system(asset, kind):
            acc = Account.objects.filter(organization=None, asset=asset, kind=kind).first()
            return acc.available if acc else 0

        def key(self):
            return f"sm{self.run}-{next(self.seq)}"

        def call(self, fn, expect: str | None, **kwargs):
            kwargs = {"actor": actor, "idempotency_key": self.key(), **kwargs}
            if expect is None:
                posted = fn(**kwargs)
                assert not posted.replayed
                self.done.append((fn, kwargs, posted.transaction_id))
                return True
            with pytest.raises(ApiError) as info:
                fn(**kwargs)
            assert info.value.code == expect
            return False

        def bal(self, org, asset):
            return self.model[(org.id, asset.id)]

        @rule(i=org_index, amount=amounts)
        def issue(self, i, amount):
            self.call(services.rights_issue, None, issuer=county, asset=self.so2, recipient=self.orgs[i],
                      amount=amount)
            self.bal(self.orgs[i], self.so2)[0] += amount

        @rule(i=org_index, amount=amounts)
        def deposit(self, i, amount):
            self.call(services.cash_deposit, None, organization=self.orgs[i], amount=amount, bank_reference="B")
            self.bal(self.orgs[i], cny)[0] += amount

        @rule(i=org_index, amount=amounts)
        def withdraw(self, i, amount):
            b = self.bal(self.orgs[i], cny)
            if self.call(services.cash_withdraw, None if amount <= b[0] else "insufficient_balance",
                         organization=self.orgs[i], amount=amount, bank_reference="W"):
                b[0] -= amount

        @rule(i=org_index, name=asset_name, amount=amounts)
        def hold(self, i, name, amount):
            b = self.bal(self.orgs[i], self.assets[name])
            if self.call(services.hold_create, None if amount <= b[0] else "insufficient_balance",
                         organization=self.orgs[i], asset=self.assets[name], amount=amount):
                b[0] -= amount
                b[1] += amount

        @rule(i=org_index, name=asset_name, amount=amounts)
        def release(self, i, name, amount):
            b = self.bal(self.orgs[i], self.assets[name])
            if self.call(services.hold_cancel, None if amount <= b[1] else "insufficient_held",
                         organization=self.orgs[i], asset=self.assets[name], amount=amount):
                b[0] += amount
                b[1] -= amount

        @rule(i=org_index, j=org_index, name=asset_name, amount=amounts)
        def transfer(self, i, j, name, amount):
            asset = self.assets[name]
            src, dst = self.bal(self.orgs[i], asset), self.bal(self.orgs[j], asset)
            expect = "same_organization" if i == j else (None if amount <= src[0] else "insufficient_balance")
            if self.call(services.rights_transfer, expect, asset=asset, sender=self.orgs[i],
                         recipient=self.orgs[j],
                         amount=amount):
                src[0] -= amount
                dst[0] += amount

        @rule(i=org_index, amount=amounts)
        def retire(self, i, amount):
            b = self.bal(self.orgs[i], self.so2)
            if self.call(services.rights_retire, None if amount <= b[0] else "insufficient_balance",
                         asset=self.so2, organization=self.orgs[i], amount=amount, reason="compliance",
                         compliance_period="2026"):
                b[0] -= amount
                self.retired += amount

        @precondition(lambda self: self.done)
        @rule(pick=st.integers(min_value=0, max_value=10**6))
        def replay(self, pick):
            """The same key and payload again: the original transaction, nothing moves."""
            fn, kwargs, txn_id = self.done[pick % len(self.done)]
            posted = fn(**kwargs)
            assert posted.replayed and posted.transaction_id == txn_id

        @invariant()
        def database_agrees_with_the_model(self):
            for acc in Account.objects.filter(organization__in=self.orgs, kind="participant"):
                assert [acc.available, acc.held] == self.model[(acc.organization_id, acc.asset_id)], acc
            assert self._system(self.so2, "retirement") == self.retired

        @invariant()
        def ledger_invariants(self):
            global_invariants()

    run_state_machine_as_test(LedgerMachine, settings=settings(
        max_examples=25, stateful_step_count=30, deadline=None, derandomize=False,
        suppress_health_check=[HealthCheck.too_slow]))
