"""`seed_demo` builds the whole demo (every app) on an empty database: thousands of trades of history in
every market and many regions (the bulk path, `trading.bulk`), pending approvals and alerts, charts with
data; twice without adding anything; the same history every time; a ledger that verifies and conserves
every asset; flow roll-ups equal to a recomputation from the trades."""
import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.demo import seed_accounts
from accounts.models import AuditEvent
from console import selectors as console_selectors
from ledger.models import Checkpoint, LedgerTransaction, Posting
from ledger.register import conservation
from ledger.verify import verify_ledger
from marketplace.models import Market
from oversight import reports
from oversight.models import Alert, ApprovalRequest, FlowSummary
from oversight.scope import Scope
from reserve.models import Release
from trading.demo_history import DAYS, FLOWS, history_trades
from trading.models import Listing, Order, SettlementOutbox, Trade, TradeEvent

from tests.system.test_bulk_history import assert_rollups_match_trades

MODELS = (LedgerTransaction, Posting, Checkpoint, Market, Order, Trade, TradeEvent, SettlementOutbox, Listing,
          AuditEvent, ApprovalRequest, Alert, FlowSummary)


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.mark.django_db(transaction=True)
def test_seed_demo_is_rich_idempotent_deterministic_and_verifiable(make_member, capsys):
    started, started_at = time.perf_counter(), timezone.now()
    call_command("seed_demo", verbosity=0)
    seconds = time.perf_counter() - started
    with capsys.disabled():  # the figure the README quotes (measured, never asserted)
        print(f"\nseed_demo on an empty database: {seconds:.1f} s, {Trade.objects.count()} trades")
    counts = _counts()

    # thousands of trades, in every market of the history, between organizations of many regions
    assert counts["Trade"] >= 5_000 and counts["Listing"] == 3 + Release.objects.count()  # + the reserve's releases
    traded = set(Trade.objects.values_list("market__code", flat=True).distinct())
    assert set(FLOWS) <= traded
    regions = set(Trade.objects.values_list("buyer__region_id", flat=True)) | \
        set(Trade.objects.values_list("seller__region_id", flat=True))
    assert len({r[:4] for r in regions}) >= 6  # cities
    # every trade settled with its ledger transaction, except the few waiting for four-eyes approval
    held = Trade.objects.filter(status="pending_approval").count()
    assert 1 <= held <= 6
    assert Trade.objects.filter(status="settled", ledger_transaction_id__isnull=False).count() == \
        counts["Trade"] - held
    assert ApprovalRequest.objects.filter(status="pending").count() == held
    # surveillance flagged the linked round trip
    assert Alert.objects.filter(kind="wash_trade").exists()
    assert not SettlementOutbox.objects.filter(status="pending", trade__status="settled").exists()

    # a second run adds nothing at all (a ledger with nothing new is not sealed again either)
    call_command("seed_demo", verbosity=0)
    assert _counts() == counts

    # the ledger: everything sealed and verified, every asset conserved (issued − retired − expired = held)
    report = verify_ledger()
    assert report.ok, report.fault
    assert report.sealed == report.transactions == counts["LedgerTransaction"]
    rows = conservation()
    assert rows and all(row["balanced"] for row in rows), [r for r in rows if not r["balanced"]]

    # the roll-ups the reports and charts read equal a recomputation from the raw trades
    assert_rollups_match_trades()

    # the same history every run: the draws are a pure function of the seed and today's date
    orgs = seed_accounts()
    markets = {m.code: m for m in Market.objects.select_related("asset").filter(code__in=FLOWS)}
    drawn = history_trades(orgs, markets, DAYS, now=started_at)
    assert drawn == history_trades(orgs, markets, DAYS, now=started_at)
    stored = list(Order.objects.filter(client_order_id__startswith="hist-", side="buy").order_by("id")
                  .values_list("client_order_id", "market_id", "organization_id", "price", "quantity"))
    assert stored == [(f"{t.client_tag}-b", t.market_id, t.buyer_id, t.price, t.quantity) for t in drawn]

    # the console's charts have data: candles in every market of the history, flows and monthly volume
    for market in markets.values():
        assert len(console_selectors.candle_series(market)) >= 5, market.code
    regulator = make_member(_provincial_regulator(), role="approver")
    scope = Scope(regulator)
    assert {f["right_type"] for f in reports.flow_matrix(scope, level="city")} >= \
        {"emission", "carbon", "energy", "power_generation", "water", "farmland"}
    assert len(reports.volume_report(scope, period="month", level="province")) >= 6
    assert reports.pending_approvals(scope)["count"] == held


def _provincial_regulator():
    from accounts.models import Organization

    found = Organization.objects.filter(kind="regulator", jurisdiction_id="350000").first()
    assert found is not None, "the demo has a provincial regulator"
    return found

