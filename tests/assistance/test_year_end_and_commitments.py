"""Year end: shortfalls become `assistance_shortfall` alerts once (idempotent, incremental; exactly the
minimum raises none, one fen short raises one). Support commitments: recorded by the buyer of a settled
farmland trade only, fulfilled in kind with evidence or in cash through maker–checker payments, overdue
when open past the due date. With payments in the books, the ledger still balances and verifies clean."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from assistance import services
from assistance.models import YearClose
from assistance.selectors import commitment_status, commitments_filtered, commitments_visible
from assistance.yearend import fingerprint, year_end
from core.errors import DomainError
from ledger.models import LedgerTransaction
from ledger.verify import verify_ledger
from oversight.models import Alert

from .conftest import MINIMUM, pay

pytestmark = pytest.mark.django_db


def test_shortfall_alerts_once_per_pair_and_year(approved_pair):
    exact = approved_pair(year=2025, cash=MINIMUM, payer_region="350203", payee_region="350724")
    short = approved_pair(year=2025, cash=MINIMUM, payer_region="350102", payee_region="350723")
    in_2025 = date(2025, 12, 31)
    pay(exact, MINIMUM, year=2025, today=in_2025)
    pay(short, MINIMUM - 1, year=2025, today=in_2025)
    # still 2025: nothing is closed
    assert year_end(today=in_2025) == {}
    assert not Alert.objects.filter(kind="assistance_shortfall").exists()
    assert year_end(today=date(2026, 1, 1)) == {2025: 1}
    alert = Alert.objects.get(kind="assistance_shortfall")
    assert alert.fingerprint == fingerprint(short.pair.pk, 2025)
    assert alert.evidence["shortfall"] == "0.01" and alert.evidence["paid"] == "11999999.99"
    assert sorted(alert.region_codes) == ["350102", "350723"]
    assert set(alert.organization_ids) == {short.payer.org.pk, short.payee.org.pk}
    # rerun, later: the closed year is not read again; nothing duplicated
    assert year_end(today=date(2026, 1, 2)) == {}
    assert Alert.objects.filter(kind="assistance_shortfall").count() == 1
    assert YearClose.objects.get(year=2025).shortfalls == 1
    # even with the watermark gone (a rerun of the same year), the fingerprint keeps it to one alert
    YearClose.objects.all().delete()
    assert year_end(today=date(2026, 1, 3)) == {2025: 0}
    assert Alert.objects.filter(kind="assistance_shortfall").count() == 1


def test_year_end_closes_each_missing_year_incrementally(approved_pair):
    ns = approved_pair(year=2023)
    assert year_end(today=date(2025, 6, 1)) == {2023: 1, 2024: 1}
    assert year_end(today=date(2026, 1, 1)) == {2025: 1}
    assert sorted(YearClose.objects.values_list("year", flat=True)) == [2023, 2024, 2025]
    assert Alert.objects.filter(kind="assistance_shortfall", organization_ids__contains=[ns.payer.org.pk]).count() == 3


def test_the_beat_task_is_scheduled_on_the_beat_queue():
    from config.celery import app

    app.loader.import_default_modules()
    app.finalize()
    entry = app.conf.beat_schedule["assistance-year-end"]
    assert entry["task"] == "assistance.tasks.year_end" and entry["options"]["queue"] == "beat"


def code_of(fn, **kwargs) -> str:
    with pytest.raises(DomainError) as exc:
        fn(**kwargs)
    return exc.value.code


def test_commitment_lifecycle(farmland_trade, govs, make_market, fund, make_org):
    ft = farmland_trade()
    buyer, trade = ft.buyer, ft.trade
    due = timezone.localdate() + timedelta(days=30)
    # only the buyer records it; only against a settled farmland trade
    assert code_of(services.commitment_create, membership=govs("350102").admin, trade=trade, kind="cash",
                   amount=100_00, due_date=due, description="x") == "assistance_not_the_buyer"
    cash = services.commitment_create(membership=buyer.admin, trade=trade, kind="cash", amount=500_000_00,
                                      due_date=due, description="对口帮扶资金")
    infra = services.commitment_create(membership=buyer.trader, trade=trade, kind="infrastructure",
                                       amount=2_000_000_00, due_date=timezone.localdate() - timedelta(days=1),
                                       description="援建乡村道路")
    assert (cash.supporter_id, cash.beneficiary_id) == (buyer.org.pk, ft.seller.org.pk)
    today = timezone.localdate()
    assert commitment_status(cash, today) == "open" and commitment_status(infra, today) == "overdue"
    overdue = commitments_filtered(commitments_visible(buyer.admin), "overdue", today)
    assert list(overdue.values_list("pk", flat=True)) == [infra.pk]
    # in kind needs evidence; cash commitments are paid, not declared
    assert code_of(services.fulfilment_record, membership=buyer.admin, commitment_id=infra.pk, amount=100,
                   description="道路", evidence={}) == "assistance_evidence_required"
    assert code_of(services.fulfilment_record, membership=buyer.admin, commitment_id=cash.pk, amount=100,
                   description="x", evidence={"document": "d"}) == "assistance_wrong_fulfilment"
    assert code_of(services.fulfilment_record, membership=govs("350724").admin,
                   commitment_id=infra.pk, amount=100, description="x",
                   evidence={"document": "d"}) == "assistance_not_the_supporter"
    services.fulfilment_record(membership=buyer.admin, commitment_id=infra.pk, amount=2_000_000_00,
                               description="道路竣工", evidence={"document": "竣工验收-2026-07"})
    infra.refresh_from_db()
    assert infra.status == "fulfilled" and commitment_status(infra, today) == "fulfilled"
    # cash: two payments, maker–checker; the second completes it
    for amount, key in ((200_000_00, "c1"), (300_000_00, "c2")):
        payment, _ = services.payment_propose(membership=buyer.trader, idempotency_key=key, commitment=cash,
                                              amount=amount, purpose_code="rural_revitalization",
                                              description="资金帮扶")
        services.payment_confirm(membership=buyer.approver, payment_id=payment.pk)
        cash.refresh_from_db()
    assert cash.status == "fulfilled" and cash.fulfilled_amount == 500_000_00
    assert [f.kind for f in cash.fulfilments.all()] == ["cash", "cash"]
    assert LedgerTransaction.objects.filter(kind="assistance_support").count() == 2
    assert code_of(services.payment_propose, membership=buyer.trader, idempotency_key="c3", commitment=cash,
                   amount=1, purpose_code="rural_revitalization", description="x") == "assistance_commitment_fulfilled"


def test_commitment_needs_a_settled_farmland_trade(make_market, govs, fund):
    from accounts.actor import Actor
    from trading.orderbook.services import order_place
    from trading.settlement.services import trade_settle

    market = make_market(region="350121")  # an emission right
    seller, buyer = govs("350121"), govs("350203", cash=10_000_000_00)
    fund(seller.org, market=market, quantity=10_000)
    place = dict(market_id=market.id, price=100_00, quantity=1_000)
    order_place(actor=Actor(user_id=None, organization_id=seller.org.id, role="trader"), organization=seller.org,
                side="sell", **place)
    trade = order_place(actor=Actor(user_id=None, organization_id=buyer.org.id, role="trader"),
                        organization=buyer.org, side="buy", **place).trades[0]
    trade_settle(trade_id=trade.id)
    trade.refresh_from_db()
    assert code_of(services.commitment_create, membership=buyer.admin, trade=trade, kind="cash", amount=1,
                   due_date=timezone.localdate(), description="x") == "assistance_not_a_farmland_trade"


def test_ledger_balances_and_verifies_with_assistance_payments(approved_pair, farmland_trade):
    ns = approved_pair(year=2026, cash=5_000_000_00)
    pay(ns, 1_234_567_89, year=2026, today=date(2026, 6, 1))
    ft = farmland_trade()
    commitment = services.commitment_create(membership=ft.buyer.admin, trade=ft.trade, kind="cash", amount=10_00,
                                            due_date=timezone.localdate(), description="资金")
    payment, _ = services.payment_propose(membership=ft.buyer.trader, idempotency_key="v1", commitment=commitment,
                                          amount=10_00, purpose_code="public_services", description="资金")
    services.payment_confirm(membership=ft.buyer.approver, payment_id=payment.pk)
    from django.db.models import Sum

    from ledger.models import Posting

    # zero-sum per asset over the whole journal, and per transaction of ours
    assert not Posting.objects.values("asset_id").annotate(s=Sum("amount")).exclude(s=0).exists()
    for txn in LedgerTransaction.objects.filter(kind__startswith="assistance_"):
        assert sum(p.amount for p in txn.postings.all()) == 0
    report = verify_ledger()
    assert report.ok, report.as_dict()


def test_an_enterprise_buyer_pays_its_cash_commitment_with_two_people(farmland_trade, govs):
    """The buyer may be an enterprise: its trader proposes, its admin confirms; the selling county's
    earmarked fund receives the cash. The longest client key (128 characters) is fine end to end."""
    buyer = govs("350203", kind="enterprise", cash=10_000_000 * 100)
    ft = farmland_trade(buyer=buyer)
    commitment = services.commitment_create(membership=buyer.trader, trade=ft.trade, kind="cash", amount=300_00,
                                            due_date=timezone.localdate(), description="资金帮扶")
    payment, _ = services.payment_propose(membership=buyer.trader, idempotency_key="k" * 128, commitment=commitment,
                                          amount=300_00, purpose_code="rural_revitalization", description="资金")
    assert code_of(services.payment_confirm, membership=buyer.trader,
                   payment_id=payment.pk) == "assistance_not_a_checker"
    confirmed, _ = services.payment_confirm(membership=buyer.admin, payment_id=payment.pk)
    txn = LedgerTransaction.objects.get(pk=confirmed.transaction_id)
    assert (txn.kind, txn.reference_type, txn.reference_id) == ("assistance_support", "support_commitment",
                                                                str(commitment.pk))
    commitment.refresh_from_db()
    assert commitment.status == "fulfilled"
