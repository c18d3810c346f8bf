"""Pairs and agreements (four eyes by the provincial regulator, never a party) and payments (maker–checker
inside the paying government), through the services: each refusal with its code, nothing written; the
ledger side of a confirmed payment (payer's cash → payee's earmarked fund, kind assistance_payment, purpose
in the memo); idempotency of proposal and confirmation."""
from __future__ import annotations

from datetime import date

import pytest

from accounts.models import AuditEvent, Membership
from assistance import services
from assistance.models import AssistancePayment, PairAgreement
from core.errors import DomainError
from ledger.models import Account, LedgerTransaction
from ledger.services import cny

from .conftest import MINIMUM

pytestmark = pytest.mark.django_db
TODAY = date(2026, 5, 1)


def code_of(fn, **kwargs) -> str:
    with pytest.raises(DomainError) as exc:
        fn(**kwargs)
    return exc.value.code


def balance(org, kind="participant") -> int:
    acc = Account.objects.filter(organization=org, asset=cny(), kind=kind).first()
    return acc.available if acc else 0


def test_the_plan_floor_and_the_parties(govs, prov):
    payer, payee = govs("350203"), govs("350724")
    assert code_of(services.pair_propose, membership=payer.admin, payer=payer.org, payee=payee.org,
                   annual_minimum=MINIMUM - 1, effective_year=2026) == "assistance_minimum_below_plan"
    assert code_of(services.pair_propose, membership=payer.admin, payer=payer.org, payee=payer.org,
                   annual_minimum=MINIMUM, effective_year=2026) == "assistance_same_party"
    assert code_of(services.pair_propose, membership=prov.approver, payer=prov.org, payee=payee.org,
                   annual_minimum=MINIMUM, effective_year=2026) == "assistance_party_not_government"
    # a trader of a party is not a proposer; nor is a third government's admin
    assert code_of(services.pair_propose, membership=payer.trader, payer=payer.org, payee=payee.org,
                   annual_minimum=MINIMUM, effective_year=2026) == "assistance_not_a_proposer"
    other = govs("350102")
    assert code_of(services.pair_propose, membership=other.admin, payer=payer.org, payee=payee.org,
                   annual_minimum=MINIMUM, effective_year=2026) == "assistance_not_a_proposer"
    agreement = services.pair_propose(membership=payer.admin, payer=payer.org, payee=payee.org,
                                      annual_minimum=MINIMUM, effective_year=2026)
    assert agreement.version == 1 and agreement.status == "pending"
    assert code_of(services.pair_propose, membership=payee.admin, payer=payer.org, payee=payee.org,
                   annual_minimum=MINIMUM, effective_year=2026) == "assistance_pair_exists"


def test_four_eyes_refusals_then_approval(govs, prov, make_org, make_member):
    payer, payee = govs("350203"), govs("350724")
    agreement = services.pair_propose(membership=prov.approver, payer=payer.org, payee=payee.org,
                                      annual_minimum=MINIMUM, effective_year=2026)
    # the proposer may not approve
    assert code_of(services.agreement_approve, membership=prov.approver,
                   agreement_id=agreement.pk) == "assistance_proposer_cannot_approve"
    # a city regulator is not the provincial one; a party's admin is no approver
    city = make_org("regulator", "350200", jurisdiction="350200")
    assert code_of(services.agreement_approve, membership=make_member(city, "approver"),
                   agreement_id=agreement.pk) == "assistance_not_an_approver"
    assert code_of(services.agreement_approve, membership=payer.admin,
                   agreement_id=agreement.pk) == "assistance_not_an_approver"
    # a provincial approver who is also a member of the payee: conflict of interest
    Membership.objects.create(user=prov.admin.user, organization=payee.org, role="viewer")
    assert code_of(services.agreement_approve, membership=prov.admin,
                   agreement_id=agreement.pk) == "assistance_approver_is_party"
    assert PairAgreement.objects.get(pk=agreement.pk).status == "pending"
    other = make_member(prov.org, "approver")
    approved = services.agreement_approve(membership=other, agreement_id=agreement.pk)
    assert approved.status == "approved" and approved.decided_by_id == other.user_id
    assert code_of(services.agreement_approve, membership=other,
                   agreement_id=agreement.pk) == "assistance_agreement_closed"
    assert AuditEvent.objects.filter(action="assistance.agreement_approve", object_id=str(agreement.pk)).exists()


def test_versions_and_the_terms_in_force(approved_pair, prov, make_member):
    ns = approved_pair(year=2025)
    v2 = services.agreement_propose(membership=ns.payee.admin, pair=ns.pair, annual_minimum=15_000_000_00,
                                    effective_year=2027)
    assert v2.version == 2
    assert services.agreement_in_force(ns.pair.pk, 2027).version == 1  # v2 not approved yet
    services.agreement_approve(membership=prov.admin, agreement_id=v2.pk)
    assert services.agreement_in_force(ns.pair.pk, 2026).version == 1
    assert services.agreement_in_force(ns.pair.pk, 2027).annual_minimum == 15_000_000_00
    assert services.agreement_in_force(ns.pair.pk, 2024) is None
    v3 = services.agreement_propose(membership=ns.payer.admin, pair=ns.pair, annual_minimum=20_000_000_00,
                                    effective_year=2026)
    services.agreement_reject(membership=prov.approver, agreement_id=v3.pk, reason="金额未经协商")
    assert services.agreement_in_force(ns.pair.pk, 2026).version == 1


def test_maker_checker_refusals_and_the_posting(approved_pair, govs):
    ns = approved_pair(year=2026, cash=20_000_000_00)
    payment, replayed = services.payment_propose(
        membership=ns.payer.trader, idempotency_key="p-1", pair=ns.pair, year=2026, amount=3_000_000_00,
        purpose_code="industry_transfer", description="产业园共建", today=TODAY)
    assert not replayed and payment.status == "pending"
    assert balance(ns.payer.org) == 20_000_000_00  # nothing moved yet
    # the proposer may not confirm, a trader is not a checker, another government is not the payer
    assert code_of(services.payment_confirm, membership=ns.payer.trader,
                   payment_id=payment.pk) == "assistance_not_a_checker"
    assert code_of(services.payment_confirm, membership=ns.payee.admin,
                   payment_id=payment.pk) == "assistance_not_a_checker"
    # the same person in another seat of the payer: still the maker
    admin_proposal, _ = services.payment_propose(
        membership=ns.payer.admin, idempotency_key="p-2", pair=ns.pair, year=2026, amount=100,
        purpose_code="public_services", description="教育", today=TODAY)
    assert code_of(services.payment_confirm, membership=ns.payer.admin,
                   payment_id=admin_proposal.pk) == "assistance_maker_cannot_check"
    # a checker who is also a member of the payee: conflict
    Membership.objects.create(user=ns.payer.approver.user, organization=ns.payee.org, role="viewer")
    assert code_of(services.payment_confirm, membership=ns.payer.approver,
                   payment_id=payment.pk) == "assistance_checker_is_payee"
    Membership.objects.filter(user=ns.payer.approver.user, organization=ns.payee.org).delete()
    confirmed, replayed = services.payment_confirm(membership=ns.payer.approver, payment_id=payment.pk)
    assert confirmed.status == "confirmed" and not replayed
    txn = LedgerTransaction.objects.get(pk=confirmed.transaction_id)
    assert txn.kind == "assistance_payment" and txn.memo["purpose_code"] == "industry_transfer"
    assert txn.memo["year"] == 2026
    assert balance(ns.payer.org) == 17_000_000_00
    assert balance(ns.payee.org, "earmarked_assistance") == 3_000_000_00
    assert balance(ns.payee.org) == 0  # not free cash: the earmarked fund
    # confirming again replays the one transaction; proposing again with the same key returns the request
    again, replayed = services.payment_confirm(membership=ns.payer.approver, payment_id=payment.pk)
    assert replayed and again.transaction_id == confirmed.transaction_id
    same, replayed = services.payment_propose(
        membership=ns.payer.trader, idempotency_key="p-1", pair=ns.pair, year=2026, amount=3_000_000_00,
        purpose_code="industry_transfer", description="产业园共建", today=TODAY)
    assert replayed and same.pk == payment.pk
    assert code_of(services.payment_propose, membership=ns.payer.trader, idempotency_key="p-1", pair=ns.pair,
                   year=2026, amount=3_000_000_01, purpose_code="industry_transfer", description="产业园共建",
                   today=TODAY) == "idempotency_conflict"
    assert LedgerTransaction.objects.filter(kind="assistance_payment").count() == 1
    # reject closes without posting
    services.payment_reject(membership=ns.payer.approver, payment_id=admin_proposal.pk, reason="重复")
    assert code_of(services.payment_confirm, membership=ns.payer.approver,
                   payment_id=admin_proposal.pk) == "assistance_payment_closed"


def test_payment_proposal_refusals(approved_pair, govs):
    ns = approved_pair(year=2026, cash=1_000_00)
    base = dict(pair=ns.pair, year=2026, purpose_code="infrastructure", description="道路", today=TODAY)
    # more than the payer holds: refused to the proposer already, nothing kept
    assert code_of(services.payment_propose, membership=ns.payer.trader, idempotency_key="x1", amount=1_000_01,
                   **base) == "insufficient_balance"
    assert not AssistancePayment.objects.exists()
    assert code_of(services.payment_propose, membership=ns.payee.admin, idempotency_key="x2", amount=100,
                   **base) == "assistance_not_the_payer"
    assert code_of(services.payment_propose, membership=ns.payer.trader, idempotency_key="x3", amount=100,
                   **{**base, "purpose_code": "farmland_protection"}) == "assistance_invalid_purpose"
    assert code_of(services.payment_propose, membership=ns.payer.trader, idempotency_key="x4", amount=100,
                   **{**base, "year": 2024}) == "assistance_invalid_year"
    assert code_of(services.payment_propose, membership=ns.payer.trader, idempotency_key="x5", amount=100,
                   **{**base, "year": 2025}) == "assistance_no_agreement"
    assert not AssistancePayment.objects.exists()


def test_earmarked_receipt_refusals(govs, make_org):
    """The ledger primitive: only assistance_/compensation_ kinds, listed purposes, government payees;
    a payer short of cash writes nothing."""
    from accounts.actor import Actor
    from ledger.earmark import earmarked_receipt

    payer, payee = govs("350203", cash=100_00), govs("350724")
    base = dict(actor=Actor.system(), kind="assistance_payment", payer=payer.org, payee=payee.org, amount=10_00,
                purpose_code="infrastructure", idempotency_key="r-1", request={"x": 1})
    assert code_of(earmarked_receipt, **{**base, "kind": "transfer"}) == "not_a_receipt_kind"
    assert code_of(earmarked_receipt, **{**base, "purpose_code": "office"}) == "invalid_purpose_code"
    assert code_of(earmarked_receipt, **{**base, "payee": make_org("enterprise", "350724")}) == "not_an_earmark_holder"
    assert code_of(earmarked_receipt, **{**base, "amount": 100_01}) == "insufficient_balance"
    assert code_of(earmarked_receipt, **{**base, "amount": 0}) == "invalid_amount"
    posted = earmarked_receipt(**base)
    assert earmarked_receipt(**base).transaction_id == posted.transaction_id  # idempotent by key
    assert balance(payee.org, "earmarked_assistance") == 10_00 and balance(payer.org) == 90_00
