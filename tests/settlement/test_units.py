"""Settlement in-process: fee postings, the earmarked farmland fund and its payouts, the approval
lifecycle, a short escrow, poison counting, webhooks (signature, retry, give-up, URL policy, API) and
two concurrent settlements of one trade. The worker-process scenarios are in test_celery."""
from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.utils import timezone

from accounts.actor import Actor
from accounts.models import AuditEvent
from core.errors import ApiError
from ledger.models import Account, Asset, LedgerTransaction, Posting
from trading.models import SettlementOutbox, Trade, TradeEvent, WebhookDelivery
from trading.orderbook.services import order_place
from trading.settlement.services import trade_approve, trade_fail, trade_settle

from tests.support.celery import assert_ledger_verifies, settle_transactions_per_trade
from tests.support.ledger import balances

SYSTEM = Actor.system()


def _cny():
    return Asset.objects.get(code="CNY")


def _cross(market, buyer, seller, *, price, quantity, buy_price=None):
    order_place(actor=SYSTEM, organization=seller, market_id=market.id, side="sell", price=price, quantity=quantity)
    placed = order_place(actor=SYSTEM, organization=buyer, market_id=market.id, side="buy",
                         price=buy_price or price, quantity=quantity)
    assert len(placed.trades) == 1
    return placed.trades[0]


@pytest.fixture
def pair(make_org, make_market, fund):
    def factory(*, fee_bps=0, fee_min=0, **kw):
        market = make_market(fee_bps=fee_bps, fee_min=fee_min, **kw)
        buyer, seller = make_org("enterprise", "350102"), make_org("enterprise", "350203")
        fund(buyer, cny=100_000_000)
        fund(seller, market=market, quantity=100_000)
        return market, buyer, seller

    return factory


# --- fees ---------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_fees_are_their_own_postings_per_side(pair, operator_org):
    market, buyer, seller = pair(fee_bps=25, fee_min=300)
    # 4 units at 100.00 yuan = 400.00 yuan; 25 bps = 1.00 yuan < minimum 3.00 yuan; buyer bids 101.00
    trade = _cross(market, buyer, seller, price=10_000, quantity=4_000, buy_price=10_100)
    assert (trade.value, trade.buyer_fee, trade.seller_fee) == (40_000, 300, 300)
    cash_before = balances(buyer, _cny())
    assert trade_settle(trade_id=trade.id) == "settled"
    trade.refresh_from_db()
    txn = LedgerTransaction.objects.get(pk=trade.ledger_transaction_id)
    fee_account = Account.objects.get(organization=operator_org, asset=_cny(), kind="fee_income")
    fee_legs = sorted(Posting.objects.filter(transaction=txn, account=fee_account).values_list("amount", flat=True))
    assert fee_legs == [300, 300]  # buyer's and seller's fee, one posting each
    assert fee_account.available == 600
    # the buyer's escrow covered 101.00 × 4 + fee; the price improvement and unused reserve come back
    refund = trade.buyer_hold - trade.value - trade.buyer_fee
    assert refund > 0
    assert balances(buyer, _cny()) == (cash_before[0] + refund, cash_before[1] - trade.buyer_hold)
    assert balances(seller, _cny()) == (40_000 - 300, 0)
    assert balances(buyer, market.asset) == (4_000, 0)
    assert txn.memo["buyer_fee"] == 300 and txn.memo["seller_fee"] == 300
    assert_ledger_verifies()


@pytest.mark.django_db
def test_fee_in_basis_points_above_the_minimum(pair, operator_org):
    market, buyer, seller = pair(fee_bps=30, fee_min=100)
    trade = _cross(market, buyer, seller, price=2_850_000, quantity=10_000)  # 285,000.00 yuan
    assert trade.buyer_fee == trade.seller_fee == 855_00  # 30 bps
    trade_settle(trade_id=trade.id)
    assert Account.objects.get(organization=operator_org, kind="fee_income").available == 2 * 855_00
    assert balances(seller, _cny())[0] == trade.value - 855_00


# --- the earmarked farmland-protection fund ----------------------------------------------------------

@pytest.fixture
def farmland(make_org, make_market, fund, make_member):
    from ledger.services import rights_issue

    market = make_market(right_type="farmland", subtype="paddy", unit="mu", scale=2, region="350121",
                         fee_bps=10, fee_min=0)
    county = market.issuer  # the county sells the quota it was issued
    rights_issue(actor=SYSTEM, issuer=county, asset=market.asset, recipient=county, amount=50_00,
                 idempotency_key="farmland-1", evidence={"project_id": "P-1", "area_mu": "50",
                                                         "acceptance_document": "验收-2026-001"})
    buyer = make_org("enterprise", "350102")
    fund(buyer, cny=500_000_000)
    return market, county, buyer


@pytest.mark.django_db
def test_farmland_proceeds_go_to_the_county_earmarked_fund(farmland):
    from ledger.earmark import earmarked_report

    market, county, buyer = farmland
    trade = _cross(market, buyer, county, price=8_000_000, quantity=10_00)  # 10 mu at 80,000.00 yuan
    assert trade_settle(trade_id=trade.id) == "settled"
    fund_account = Account.objects.get(organization=county, asset=_cny(), kind="earmarked")
    assert fund_account.available == trade.value - trade.seller_fee == 80_000_000 - 80_000
    assert balances(county, _cny()) == (0, 0)  # nothing in its free cash
    assert LedgerTransaction.objects.get(pk=Trade.objects.get(pk=trade.id).ledger_transaction_id
                                         ).memo["proceeds_account"] == "earmarked"
    [row] = earmarked_report()
    assert (row["organization"], row["received"], row["sales"], row["paid_out"], row["balance"]) == (
        county.id, fund_account.available, 1, 0, fund_account.available)
    assert_ledger_verifies()


@pytest.mark.django_db
def test_enterprise_farmland_seller_is_paid_in_free_cash(make_org, make_market, fund):
    """Only a government seller's quota proceeds are earmarked."""
    from ledger.services import rights_issue, rights_transfer

    market = make_market(right_type="farmland", subtype="paddy", unit="mu", scale=2)
    seller, buyer = make_org("enterprise", "350121"), make_org("enterprise", "350102")
    rights_issue(actor=SYSTEM, issuer=market.issuer, asset=market.asset, recipient=market.issuer, amount=10_00,
                 idempotency_key="f2", evidence={"project_id": "P", "area_mu": "10", "acceptance_document": "D"})
    rights_transfer(actor=SYSTEM, asset=market.asset, sender=market.issuer, recipient=seller, amount=10_00,
                    idempotency_key="f2t")
    fund(buyer, cny=100_000_000)
    trade = _cross(market, buyer, seller, price=1_000_000, quantity=1_00)
    trade_settle(trade_id=trade.id)
    assert balances(seller, _cny()) == (trade.value, 0)
    assert not Account.objects.filter(organization=seller, kind="earmarked").exists()


@pytest.mark.django_db
def test_earmarked_payout_needs_a_purpose_code(farmland, make_org):
    from ledger.earmark import earmarked_payout, earmarked_report

    market, county, buyer = farmland
    trade = _cross(market, buyer, county, price=8_000_000, quantity=10_00)
    trade_settle(trade_id=trade.id)
    fund_account = Account.objects.get(organization=county, asset=_cny(), kind="earmarked")
    received = fund_account.available
    county_actor = Actor(user_id=None, organization_id=county.id, role="admin", organization_kind=county.kind)
    args = dict(actor=county_actor, organization=county, amount=30_000_000, idempotency_key="pay-1",
                description="某镇高标准农田建设项目首期款", bank_reference="B-1")

    with pytest.raises(ApiError) as bad:
        earmarked_payout(purpose_code="office_renovation", **args)
    assert bad.value.code == "invalid_purpose_code"
    with pytest.raises(ApiError) as empty:
        earmarked_payout(purpose_code="high_standard_farmland", **{**args, "description": "  "})
    assert empty.value.code == "description_required"
    other = make_org("county_government", "350122")
    with pytest.raises(ApiError) as foreign:
        earmarked_payout(purpose_code="high_standard_farmland",
                         **{**args, "actor": Actor(user_id=None, organization_id=other.id, role="admin",
                                                   organization_kind=other.kind)})
    assert foreign.value.code == "permission_denied"
    with pytest.raises(ApiError) as enterprise:
        earmarked_payout(purpose_code="farmland_protection", **{**args, "organization": buyer, "actor": SYSTEM})
    assert enterprise.value.code == "not_an_earmark_holder"
    assert Account.objects.get(pk=fund_account.pk).available == received  # nothing moved

    posted = earmarked_payout(purpose_code="high_standard_farmland", **args)
    again = earmarked_payout(purpose_code="high_standard_farmland", **args)
    assert again.replayed and again.transaction_id == posted.transaction_id
    with pytest.raises(ApiError) as conflict:
        earmarked_payout(purpose_code="rural_development", **args)
    assert conflict.value.code == "idempotency_conflict"
    with pytest.raises(ApiError) as short:
        earmarked_payout(purpose_code="farmland_protection", **{**args, "amount": received, "idempotency_key": "p2"})
    assert short.value.code == "insufficient_balance"

    assert Account.objects.get(pk=fund_account.pk).available == received - 30_000_000
    txn = LedgerTransaction.objects.get(pk=posted.transaction_id)
    assert txn.kind == "earmark_payout" and txn.memo["purpose_code"] == "high_standard_farmland"
    issuance = Account.objects.get(organization=None, asset=_cny(), kind="issuance")
    assert Posting.objects.get(transaction=txn, account=issuance).amount == 30_000_000  # paid out of the exchange
    assert AuditEvent.objects.filter(action="earmark.payout", object_id=str(posted.transaction_id)).count() == 1
    [row] = earmarked_report()
    assert row["received"] == received and row["paid_out"] == 30_000_000
    assert row["by_purpose"] == {"high_standard_farmland": 30_000_000}
    assert row["balance"] == received - 30_000_000
    assert_ledger_verifies()


@pytest.mark.django_db
def test_earmarked_report_and_payout_api(farmland, make_member, make_org, client_for):
    market, county, buyer = farmland
    trade = _cross(market, buyer, county, price=8_000_000, quantity=10_00)
    trade_settle(trade_id=trade.id)
    county_admin = client_for(make_member(county, "admin"))
    r = county_admin.post("/api/v1/settlement/earmarked-payouts", {"amount": "1000.00", "purpose_code": "nope",
                                                                    "description": "x"},
                          format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 400 and r.json()["code"] == "invalid_purpose_code"
    body = {"amount": "1000.00", "purpose_code": "farmland_protection", "description": "耕地保护补偿"}
    r = county_admin.post("/api/v1/settlement/earmarked-payouts", body, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert r.status_code == 201, r.json()
    r2 = county_admin.post("/api/v1/settlement/earmarked-payouts", body, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert r2.status_code == 200 and r2["Idempotent-Replayed"] == "true"
    assert r2.json()["transaction_id"] == r.json()["transaction_id"]
    assert client_for(make_member(county, "trader")).post(
        "/api/v1/settlement/earmarked-payouts", body, format="json", HTTP_IDEMPOTENCY_KEY="k3").status_code == 403

    expected = {"received": "799200.00", "paid_out": "1000.00", "balance": "798200.00",
                "by_purpose": {"farmland_protection": "1000.00"}}
    operator = client_for(make_member(make_org("exchange_operator", "350000"), "viewer"))
    regulator = client_for(make_member(make_org("regulator", "350100", jurisdiction="350100"), "viewer"))
    far_regulator = client_for(make_member(make_org("regulator", "350200", jurisdiction="350200"), "viewer"))
    for client in (operator, regulator, county_admin):
        rows = client.get("/api/v1/settlement/earmarked-report").json()
        assert len(rows) == 1 and {k: rows[0][k] for k in expected} == expected, rows
    assert far_regulator.get("/api/v1/settlement/earmarked-report").json() == []
    assert client_for(make_member(buyer, "admin")).get("/api/v1/settlement/earmarked-report").status_code == 403
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    rows = operator.get(f"/api/v1/settlement/earmarked-report?from={tomorrow}").json()
    assert rows[0]["received"] == "0.00" and rows[0]["balance"] == "798200.00"


# --- lifecycle: approval, rejection, short escrow ---------------------------------------------------------

def _make_pending(trade):
    """What a settlement-stage rule asking for approval does (services leave such trades without an
    outbox row when the rule fires at matching)."""
    Trade.objects.filter(pk=trade.id).update(status="pending_approval")
    SettlementOutbox.objects.filter(trade_id=trade.id).delete()


@pytest.mark.django_db
def test_approval_makes_the_trade_settle(pair, make_org, django_capture_on_commit_callbacks, monkeypatch):
    market, buyer, seller = pair()
    trade = _cross(market, buyer, seller, price=10_000, quantity=2_000)
    _make_pending(trade)
    assert trade_settle(trade_id=trade.id) == "pending_approval"  # not settleable, nothing happens
    regulator = make_org("regulator", "350100", jurisdiction="350100")
    approver = Actor(user_id=None, organization_id=regulator.id, role="approver", organization_kind="regulator")
    nudges = []
    monkeypatch.setattr("trading.settlement.outbox.send_settlement", lambda trade_id, queue: nudges.append(trade_id))
    with django_capture_on_commit_callbacks(execute=True):
        assert trade_approve(trade_id=trade.id, actor=approver, note="合规") == "approved"
    assert nudges == [trade.id]  # the settlement nudge, after commit
    row = SettlementOutbox.objects.get(trade_id=trade.id)
    assert row.status == "pending" and row.not_before <= timezone.now() and row.last_enqueued_at is not None
    assert trade_approve(trade_id=trade.id, actor=approver) == "approved"  # again: a no-op
    assert trade_settle(trade_id=trade.id) == "settled"
    assert list(TradeEvent.objects.filter(trade_id=trade.id).values_list("status", flat=True)) == [
        "matched", "approved", "settling", "settled"]
    assert TradeEvent.objects.get(trade_id=trade.id, status="settling").detail == {"previous": "approved"}
    assert AuditEvent.objects.filter(object_type="trade", object_id=str(trade.id), action="trade.approve",
                                     actor_organization_id=regulator.id).exists()
    assert SettlementOutbox.objects.get(trade_id=trade.id).status == "done"
    with pytest.raises(ApiError) as late:
        trade_fail(trade_id=trade.id, reason="too late", status="rejected")
    assert late.value.code == "invalid_trade_transition"


@pytest.mark.django_db
def test_rejection_releases_the_holds(pair):
    market, buyer, seller = pair(fee_bps=10, fee_min=100)
    cash0, rights0 = balances(buyer, _cny()), balances(seller, market.asset)
    trade = _cross(market, buyer, seller, price=10_000, quantity=2_000)
    with pytest.raises(ApiError) as not_pending:
        trade_fail(trade_id=trade.id, reason="no", status="rejected")
    assert not_pending.value.code == "invalid_trade_transition"
    _make_pending(trade)
    assert trade_fail(trade_id=trade.id, reason="approval_rejected: 超出范围", status="rejected") == "rejected"
    assert trade_fail(trade_id=trade.id, reason="again", status="rejected") == "rejected"
    with pytest.raises(ApiError):
        trade_approve(trade_id=trade.id, actor=SYSTEM)
    assert balances(buyer, _cny()) == cash0 and balances(seller, market.asset) == rights0
    assert TradeEvent.objects.filter(trade_id=trade.id, status="rejected").count() == 1
    assert AuditEvent.objects.filter(object_id=str(trade.id), action="trade.rejected").count() == 1
    assert trade_settle(trade_id=trade.id) == "rejected"
    assert settle_transactions_per_trade([trade.id]) == {trade.id: 0}
    assert_ledger_verifies()


@pytest.mark.django_db
def test_short_escrow_fails_the_trade_with_an_alert_and_nothing_partial(pair):
    from ledger.services import hold_release

    market, buyer, seller = pair()
    trade = _cross(market, buyer, seller, price=10_000, quantity=2_000)
    rights_before = balances(seller, market.asset)
    # something else (a bug) takes the buyer's escrow away before settlement
    hold_release(actor=SYSTEM, organization_id=buyer.id, asset=_cny(), amount=trade.buyer_hold,
                 reference=("test", "steal"), idempotency_key="steal-escrow")
    assert trade_settle(trade_id=trade.id) == "failed"
    t = Trade.objects.get(pk=trade.id)
    assert t.status == "failed" and t.failure_reason == "settlement_error:insufficient_held"
    assert settle_transactions_per_trade([trade.id]) == {trade.id: 0}  # nothing partial
    assert balances(seller, market.asset) == (rights_before[0] + rights_before[1], 0)  # seller's side released
    assert balances(buyer, market.asset) == (0, 0)
    alert = AuditEvent.objects.get(action="alert.settlement_failed", object_id=str(trade.id))
    assert alert.after["not_released"] == [[buyer.id, _cny().id, trade.buyer_hold]]
    assert SettlementOutbox.objects.get(trade_id=trade.id).status == "done"
    assert_ledger_verifies()


@pytest.mark.django_db
def test_settlement_writes_everything_in_one_statement_postings_in_account_order(pair, operator_org):
    """The settling statement: ledger transaction, trade, outbox, two events and two audit events, all
    carrying the ledger transaction's id; postings in account id order (the lock order the balance
    trigger follows when it takes the account locks)."""
    market, buyer, seller = pair(fee_bps=25, fee_min=300)
    trade = _cross(market, buyer, seller, price=10_000, quantity=4_000, buy_price=10_100)
    assert trade_settle(trade_id=trade.id) == "settled"
    t = Trade.objects.get(pk=trade.id)
    txn = LedgerTransaction.objects.get(idempotency_key=f"settle:trade:{trade.id}")
    assert t.status == "settled" and t.ledger_transaction_id == txn.id and t.settled_at is not None
    accounts = list(Posting.objects.filter(transaction=txn).order_by("id").values_list("account_id", flat=True))
    assert accounts == sorted(accounts) and len(accounts) == 7  # both fees, the buyer's unused reserve
    assert [(e.status, e.detail) for e in TradeEvent.objects.filter(trade_id=trade.id).order_by("id")][-2:] == [
        ("settling", {"previous": "matched"}), ("settled", {"ledger_transaction": txn.id})]
    settle = AuditEvent.objects.get(object_id=str(trade.id), action="trade.settle")
    assert settle.after["ledger_transaction"] == txn.id and settle.after["fees"] == [300, 300]
    assert AuditEvent.objects.get(object_id=str(trade.id), action="trade.settling").before == {"status": "matched"}
    assert SettlementOutbox.objects.get(trade_id=trade.id).status == "done"
    assert_ledger_verifies()


@pytest.mark.django_db
def test_a_taken_ledger_key_writes_nothing(pair):
    """The ledger and the trade disagree (the trade's settlement key is used, the trade is not settled):
    the settling statement writes nothing at all and the attempt fails, for the task's retries."""
    from ledger.services import hold_release

    market, buyer, seller = pair()
    trade = _cross(market, buyer, seller, price=10_000, quantity=2_000)
    hold_release(actor=SYSTEM, organization_id=buyer.id, asset=_cny(), amount=1,
                 reference=("test", "squat"), idempotency_key=f"settle:trade:{trade.id}")
    before = (balances(buyer, _cny()), balances(seller, market.asset), TradeEvent.objects.count(),
              AuditEvent.objects.count())
    with pytest.raises(RuntimeError, match="already used"):
        trade_settle(trade_id=trade.id)
    assert Trade.objects.get(pk=trade.id).status == "matched"
    assert SettlementOutbox.objects.get(trade_id=trade.id).status == "pending"
    assert (balances(buyer, _cny()), balances(seller, market.asset), TradeEvent.objects.count(),
            AuditEvent.objects.count()) == before


@pytest.mark.django_db
def test_a_message_redelivered_too_often_fails_the_trade(pair, settings):
    """A trade whose settlement kills its worker every time: each redelivery is counted before trying
    again; past the maximum the trade fails, releasing its escrow, instead of looping forever."""
    from trading.tasks import settle_trade

    settings.SETTLEMENT_MAX_ATTEMPTS = 3
    market, buyer, seller = pair()
    trade = _cross(market, buyer, seller, price=10_000, quantity=2_000)
    SettlementOutbox.objects.filter(trade_id=trade.id).update(attempts=2)
    settle_trade.push_request(delivery_info={"redelivered": True}, retries=0, id="test-redelivered")
    try:
        assert settle_trade.run(trade.id) == "failed"
    finally:
        settle_trade.pop_request()
    t = Trade.objects.get(pk=trade.id)
    assert t.status == "failed" and t.failure_reason == "settlement_error:max_attempts"
    assert AuditEvent.objects.filter(action="alert.settlement_failed", object_id=str(trade.id)).exists()
    assert balances(buyer, market.asset) == (0, 0) and balances(seller, market.asset)[1] == 0


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_settlements_of_one_trade_settle_once(pair):
    market, buyer, seller = pair(fee_bps=10, fee_min=100)
    trade = _cross(market, buyer, seller, price=10_000, quantity=2_000)
    barrier, results = threading.Barrier(4), []

    def run():
        try:
            barrier.wait()
            results.append(trade_settle(trade_id=trade.id))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["settled"] * 4
    assert settle_transactions_per_trade([trade.id]) == {trade.id: 1}
    assert TradeEvent.objects.filter(trade_id=trade.id, status="settled").count() == 1
    assert_ledger_verifies()


# --- webhooks -----------------------------------------------------------------------------------------

class Receiver:
    """A tiny local HTTP endpoint: answers with the next status from `script` (then 200)."""

    def __init__(self, script=()):
        self.script = list(script)
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                code = receiver.script.pop(0) if receiver.script else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def factory(script=()):
        r = Receiver(script)
        made.append(r)
        return r

    yield factory
    for r in made:
        r.close()


@pytest.mark.django_db
def test_webhook_api_registers_lists_and_deletes(pair, make_member, client_for, settings, receiver):
    market, buyer, seller = pair()
    admin, trader = client_for(make_member(buyer, "admin")), client_for(make_member(buyer, "trader"))
    hook = receiver()
    r = admin.post("/api/v1/webhooks", {"url": hook.url, "events": ["settled"]}, format="json")
    assert r.status_code == 400 and "url" in r.json()["fields"]  # loopback refused by default
    assert admin.post("/api/v1/webhooks", {"url": "ftp://example.com/x"}, format="json").status_code == 400
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    r = admin.post("/api/v1/webhooks", {"url": hook.url, "events": ["settled", "failed"]}, format="json")
    assert r.status_code == 201, r.json()
    created = r.json()
    assert len(created["secret"]) >= 32 and created["events"] == ["failed", "settled"]
    listed = admin.get("/api/v1/webhooks").json()
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]
    assert listed[0]["secret_hint"] == "…" + created["secret"][-4:]
    assert trader.get("/api/v1/webhooks").status_code == 403
    assert trader.post("/api/v1/webhooks", {"url": hook.url}, format="json").status_code == 403
    other_admin = client_for(make_member(seller, "admin"))
    assert other_admin.get("/api/v1/webhooks").json() == []
    assert other_admin.delete(f"/api/v1/webhooks/{created['id']}").status_code == 404
    rotated = admin.post(f"/api/v1/webhooks/{created['id']}/rotate-secret").json()
    assert rotated["secret"] != created["secret"]
    assert admin.get(f"/api/v1/webhooks/{created['id']}/deliveries").json() == []
    assert admin.delete(f"/api/v1/webhooks/{created['id']}").status_code == 204
    assert admin.get("/api/v1/webhooks").json() == []
    assert AuditEvent.objects.filter(action__in=["webhook.register", "webhook.delete", "webhook.rotate_secret"]
                                     ).count() == 3


@pytest.mark.django_db
def test_webhooks_are_signed_retried_with_backoff_and_given_up(pair, make_member, client_for, settings, receiver):
    from trading.notifications.delivery import backoff_seconds, deliver, new_secret, verify_signature

    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10.0
    market, buyer, seller = pair(fee_bps=10, fee_min=100)
    good, bad = receiver([500]), receiver([500, 503, 500, 500])
    secret = client_for(make_member(buyer, "admin")).post("/api/v1/webhooks", {"url": good.url},
                                                          format="json").json()["secret"]
    client_for(make_member(seller, "admin")).post("/api/v1/webhooks", {"url": bad.url, "events": ["settled"]},
                                                  format="json")
    trade = _cross(market, buyer, seller, price=10_000, quantity=2_000)
    matched = WebhookDelivery.objects.get(trade_id=trade.id, event="matched")  # the seller only wants settled
    assert matched.endpoint.organization_id == buyer.id
    trade_settle(trade_id=trade.id)
    assert WebhookDelivery.objects.filter(trade_id=trade.id, event="settled").count() == 2

    assert deliver(matched.id) == ("retry", backoff_seconds(1))  # 500: retried in 10 s
    row = WebhookDelivery.objects.get(pk=matched.id)
    assert row.attempts == 1 and row.last_error == "HTTP 500" and row.next_attempt_at > timezone.now()
    assert deliver(matched.id) == ("skipped", None)  # not due yet
    WebhookDelivery.objects.filter(pk=matched.id).update(next_attempt_at=timezone.now())
    assert deliver(matched.id) == ("delivered", None)
    assert WebhookDelivery.objects.get(pk=matched.id).status == "delivered"
    request = good.requests[-1]
    assert verify_signature(secret, request["body"], request["headers"])
    assert not verify_signature(new_secret(), request["body"], request["headers"])
    payload = json.loads(request["body"])
    assert request["headers"]["X-Event-Id"] == payload["id"] and payload["type"] == "trade.matched"
    assert payload["trade"]["id"] == trade.id and payload["trade"]["side"] == "buy"
    assert payload["trade"]["fee"] == "1.00" and payload["trade"]["status"] == "matched"

    failing = WebhookDelivery.objects.get(trade_id=trade.id, event="settled", endpoint__url=bad.url)
    outcomes = []
    for _ in range(3):
        WebhookDelivery.objects.filter(pk=failing.id).update(next_attempt_at=timezone.now())
        outcomes.append(deliver(failing.id)[0])
    assert outcomes == ["retry", "retry", "gave_up"]
    assert [backoff_seconds(n) for n in (1, 2, 3)] == [10.0, 20.0, 40.0]
    failing.refresh_from_db()
    assert failing.status == "gave_up" and failing.attempts == 3 and failing.last_error == "HTTP 500"
    assert len(bad.requests) == 3


# --- sweepers -------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_settlement_sweeper_backs_off_between_resends(pair, monkeypatch, settings):
    """A pending row is resent SWEEP_AFTER after its nudge, then at doubling gaps: a backlog that takes
    long to drain is not flooded with duplicates, a lost message is resent soon."""
    from trading.tasks import settlement_sweep

    settings.SETTLEMENT_SWEEP_AFTER_SECONDS = 10
    market, buyer, seller = pair()
    trade = _cross(market, buyer, seller, price=10_000, quantity=1_000)
    sent = []
    monkeypatch.setattr("trading.tasks.settlement.send_settlement",
                        lambda trade_id, queue: sent.append(trade_id) or True)
    now = timezone.now()

    def at(created_ago, nudged_ago):
        SettlementOutbox.objects.filter(trade_id=trade.id).update(
            created_at=now - timedelta(seconds=created_ago),
            last_enqueued_at=None if nudged_ago is None else now - timedelta(seconds=nudged_ago))
        sent.clear()
        settlement_sweep()
        return sent == [trade.id]

    assert not at(5, 5)  # fresh
    assert at(11, 11)  # first resend after 10 s
    assert not at(25, 12)  # resent at 13 s: the next one is due 13 s later, not 10
    assert at(27, 15)
    assert not at(1000, 299)  # gaps stop growing at 300 s
    assert at(1000, 301)
    assert at(5, None)  # never sent (an end-of-day trade at its cut-off)
    SettlementOutbox.objects.filter(trade_id=trade.id).update(not_before=now + timedelta(seconds=60))
    assert not at(100, None)  # not before its cut-off
    Trade.objects.filter(pk=trade.id).update(status="pending_approval")
    SettlementOutbox.objects.filter(trade_id=trade.id).update(not_before=None)
    assert not at(100, 100)  # waiting for a regulator: not swept


@pytest.mark.django_db
def test_webhook_sweeper_sends_due_deliveries(pair, make_member, client_for, settings, monkeypatch):
    from trading.tasks import webhook_sweep

    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    market, buyer, seller = pair()
    client_for(make_member(buyer, "admin")).post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/x"}, format="json")
    trade = _cross(market, buyer, seller, price=10_000, quantity=1_000)
    delivery = WebhookDelivery.objects.get(trade_id=trade.id)
    sent = []
    monkeypatch.setattr("trading.tasks.notifications.send_delivery", lambda i, countdown=None: sent.append(i) or True)
    WebhookDelivery.objects.filter(pk=delivery.id).update(next_attempt_at=timezone.now() + timedelta(seconds=30))
    assert webhook_sweep() == 0 and sent == []  # a retry not due yet
    WebhookDelivery.objects.filter(pk=delivery.id).update(next_attempt_at=timezone.now() - timedelta(seconds=30))
    assert webhook_sweep() == 1 and sent == [delivery.id]
    WebhookDelivery.objects.filter(pk=delivery.id).update(status="delivered")
    sent.clear()
    assert webhook_sweep() == 0


@pytest.mark.django_db
def test_webhook_and_settlement_endpoints_generate_a_clean_schema():
    from django.urls import include
    from django.urls import path as url_path
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    GENERATOR_STATS.reset()
    schema = SchemaGenerator(patterns=[url_path("api/v1/", include("trading.settlement.urls")),
                                       url_path("api/v1/", include("trading.notifications.urls"))]).get_schema(
        request=None, public=True)
    validate_schema(schema)
    assert not GENERATOR_STATS, (dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache))
    assert set(schema["paths"]) == {
        "/api/v1/webhooks", "/api/v1/webhooks/{id}", "/api/v1/webhooks/{id}/rotate-secret",
        "/api/v1/webhooks/{id}/deliveries", "/api/v1/webhook-deliveries", "/api/v1/settlement/batches",
        "/api/v1/settlement/earmarked-report",
        "/api/v1/settlement/earmarked-payouts", "/api/v1/settlement/exports/earmarked-funds"}
