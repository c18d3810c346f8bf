"""The bulk history path (`trading.bulk`): every row the live paths write for a settled order-book trade,
the ledger's invariants in force (zero sum per transaction, balances = postings, escrow spent exactly),
the flow roll-ups equal to a recomputation from the trades, idempotent by its key, all or nothing."""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import AuditEvent
from core.errors import DomainError
from ledger.models import Account, LedgerTransaction, Posting
from ledger.register import conservation
from oversight.reports import flow_rollup
from trading.bulk import HistoryTrade, funding_needs, load_batch, load_history
from trading.models import Order, SettlementOutbox, Trade, TradeEvent

pytestmark = pytest.mark.django_db


def _check_deferred():
    """The ledger's zero-sum check is a deferred trigger, run at commit: run it now (the test's
    transaction is rolled back, never committed)."""
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute("SET CONSTRAINTS ALL DEFERRED")


def flows_from_trades() -> dict:
    """The flow roll-up recomputed from the raw settled trades (the trigger's own grouping)."""
    with connection.cursor() as cur:
        cur.execute("""SELECT (coalesce(t.settled_at, t.created_at) AT TIME ZONE 'Asia/Shanghai')::date,
                              a.right_type_id, coalesce(a.origin_region_id, ''), o.region_id, count(*),
                              sum(t.quantity * power(10::numeric, -a.scale)), sum(t.value)
                         FROM trading_trade t JOIN ledger_asset a ON a.id = t.asset_id
                         JOIN accounts_organization o ON o.id = t.buyer_id
                        WHERE t.status = 'settled' AND a.right_type_id IS NOT NULL
                        GROUP BY 1, 2, 3, 4""")
        return {tuple(r[:4]): (r[4], r[5].normalize(), r[6]) for r in cur.fetchall()}


def flows_from_rollups() -> tuple[dict, dict]:
    """(daily summary ∪ deltas, totals ∪ deltas) as stored, grouped by their keys."""
    with connection.cursor() as cur:
        cur.execute("""SELECT day, right_type, origin_region, dest_region, sum(trades), sum(quantity), sum(value)
                         FROM (SELECT day, right_type, origin_region, dest_region, trades, quantity, value
                                 FROM oversight_flowsummary
                               UNION ALL
                               SELECT day, right_type, origin_region, dest_region, trades, quantity, value
                                 FROM oversight_flowdelta) f
                        GROUP BY 1, 2, 3, 4 HAVING sum(trades) > 0""")
        daily = {tuple(r[:4]): (r[4], r[5].normalize(), r[6]) for r in cur.fetchall()}
        cur.execute("SELECT right_type, origin_region, dest_region, trades, quantity, value FROM oversight_flowtotal "
                    "WHERE trades > 0")
        totals = {tuple(r[:3]): (r[3], r[4].normalize(), r[5]) for r in cur.fetchall()}
    return daily, totals


def assert_rollups_match_trades():
    flow_rollup()
    expected = flows_from_trades()
    daily, totals = flows_from_rollups()
    assert daily == expected
    all_time: dict = {}
    for (_, rt, o, d), (n, q, v) in expected.items():
        n0, q0, v0 = all_time.get((rt, o, d), (0, 0, 0))
        all_time[(rt, o, d)] = (n0 + n, (q0 + q).normalize(), v0 + v)
    assert totals == all_time
    monthly: dict = {}
    for (day, rt, o, d), (n, q, v) in expected.items():
        key = (day.replace(day=1), rt, o, d)
        n0, q0, v0 = monthly.get(key, (0, 0, 0))
        monthly[key] = (n0 + n, (q0 + q).normalize(), v0 + v)
    with connection.cursor() as cur:
        cur.execute("SELECT month, right_type, origin_region, dest_region, trades, quantity, value "
                    "FROM oversight_flowmonthly WHERE trades > 0")
        assert {tuple(r[:4]): (r[4], r[5].normalize(), r[6]) for r in cur.fetchall()} == monthly


@pytest.fixture
def book(make_org, make_market, fund, operator_org):
    """A fee-charging market, a farmland market whose government seller is paid into its fund, and
    four funded parties."""
    market = make_market(fee_bps=5, fee_min=100)
    farmland = make_market(right_type="farmland", subtype="quantity", unit="mu", scale=2, region="350724",
                           fee_bps=5, fee_min=0)
    parties = [make_org("enterprise", region) for region in ("350102", "350205", "350582", "350802")]
    county = farmland.issuer
    for org in parties:
        fund(org, cny=10**12, market=market, quantity=10**9)
    from accounts.actor import Actor
    from ledger.services import rights_issue

    rights_issue(actor=Actor.system(), issuer=county, asset=farmland.asset, recipient=county, amount=10**7,
                 idempotency_key=f"farmland-{county.id}",
                 evidence={"project_id": "T-1", "area_mu": "100000.00", "acceptance_document": "T〔2026〕1号"})
    fund(parties[0], cny=10**12)
    return market, farmland, parties, county


def _trade(market, buyer, seller, price, lots, at, tag):
    return HistoryTrade(market_id=market.id, buyer_id=buyer.id, seller_id=seller.id, price=price,
                        quantity=lots * market.lot_size, at=at, client_tag=tag)


def test_a_batch_writes_what_the_live_paths_write(book):
    market, farmland, (a, b, c, d), county = book
    at = timezone.now() - timedelta(days=3)
    trades = [_trade(market, a, b, 30_000_00, 2, at, "t-1"),
              _trade(market, c, d, 30_100_00, 1, at + timedelta(hours=1), "t-2"),
              _trade(farmland, a, county, 45_000_00, 3, at + timedelta(hours=2), "t-3")]
    before = {acc.id: (acc.available, acc.held) for acc in Account.objects.all()}
    journal = LedgerTransaction.objects.count()
    assert load_batch(trades, key="unit") == 3
    _check_deferred()

    loaded = list(Trade.objects.order_by("id"))
    assert [t.status for t in loaded] == ["settled"] * 3
    assert [t.created_at for t in loaded] == [t.at for t in trades]  # ids grow with time
    first = loaded[0]
    assert (first.value, first.buyer_fee, first.seller_fee) == (60_000_00, 30_00, 30_00)
    assert first.buyer_hold == first.value + first.buyer_fee and first.seller_hold == first.quantity
    assert first.sell_order_id < first.buy_order_id
    sell, buy = Order.objects.get(pk=first.sell_order_id), Order.objects.get(pk=first.buy_order_id)
    assert (sell.status, sell.remaining, sell.hold_remaining, sell.client_order_id) == ("filled", 0, 0, "t-1-s")
    assert (buy.organization_id, buy.filled_value, buy.fees_charged) == (a.id, 60_000_00, 30_00)
    assert list(TradeEvent.objects.filter(trade=first).order_by("id").values_list("status", flat=True)) == \
        ["matched", "settling", "settled"]
    assert SettlementOutbox.objects.get(trade=first).status == "done"
    assert sorted(AuditEvent.objects.filter(object_type="trade", object_id=str(first.id))
                  .values_list("action", flat=True)) == ["trade.settle", "trade.settling"]
    assert AuditEvent.objects.filter(action="order.place", object_id__in=[str(sell.id), str(buy.id)]).count() == 2

    # one hold for the batch, one settlement per trade, each with the live settlement's key and legs
    assert LedgerTransaction.objects.count() == journal + 4
    txn = LedgerTransaction.objects.get(pk=first.ledger_transaction_id)
    assert (txn.kind, txn.idempotency_key, txn.reference_id) == ("settle", f"settle:trade:{first.id}", str(first.id))
    legs = sorted(Posting.objects.filter(transaction=txn).values_list("bucket", "amount"))
    assert legs == sorted([("H", -2000), ("A", 2000), ("H", -60_030_00), ("A", 59_970_00), ("A", 30_00), ("A", 30_00)])

    # escrow spent exactly: every held bucket is back where it was; the seller county's proceeds are earmarked
    after = {acc.id: (acc.available, acc.held) for acc in Account.objects.all()}
    assert all(after[i][1] == held for i, (_, held) in before.items())
    fund_account = Account.objects.get(organization=county, kind="earmarked")
    assert fund_account.available == loaded[2].value - loaded[2].seller_fee
    assert all(row["balanced"] for row in conservation())
    assert_rollups_match_trades()  # a batch under 1,000 trades goes to the deltas, folded here


def test_a_loaded_key_writes_nothing_and_a_short_party_refuses_the_whole_batch(book, make_org):
    market, _, (a, b, _, _), _ = book
    at = timezone.now() - timedelta(days=1)
    trades = [_trade(market, a, b, 30_000_00, 1, at, "k-1")]
    assert load_batch(trades, key="again") == 1
    counts = (Trade.objects.count(), Order.objects.count(), LedgerTransaction.objects.count(),
              AuditEvent.objects.count())
    assert load_batch(trades, key="again") == 0
    assert (Trade.objects.count(), Order.objects.count(), LedgerTransaction.objects.count(),
            AuditEvent.objects.count()) == counts

    poor = make_org("enterprise", "350121")  # no cash at all
    with pytest.raises(DomainError) as refused, transaction.atomic():
        load_batch([_trade(market, a, b, 30_000_00, 1, at, "k-2"), _trade(market, poor, b, 30_000_00, 1, at, "k-3")],
                   key="short")
    assert refused.value.code == "insufficient_balance"
    assert (Trade.objects.count(), Order.objects.count(), LedgerTransaction.objects.count(),
            AuditEvent.objects.count()) == counts


def test_funding_needs_are_the_escrow_of_the_trades(book):
    market, _, (a, b, c, _), _ = book
    at = timezone.now()
    trades = [_trade(market, a, b, 30_000_00, 2, at, "f-1"), _trade(market, a, c, 10_00, 1, at, "f-2")]
    from ledger.services import cny

    needs = funding_needs(trades)
    assert needs[(a.id, cny().id)] == (60_000_00 + 30_00) + (10_00 + 100)  # value + fee (minimum 100 fen)
    assert needs[(b.id, market.asset_id)] == 2 * market.lot_size


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3), st.integers(1, 2_000), st.integers(1, 20),
                          st.integers(0, 86_400 * 30)), min_size=1, max_size=40),
       st.integers(1, 7))
def test_any_history_keeps_the_ledger_balanced_and_the_rollups_exact(book, specs, batch):
    """Whatever the trades and the batch size: each transaction sums to zero per asset, balances equal
    their postings (conservation per asset), held balances end where they started, and the flow roll-ups
    equal a recomputation from the trades."""
    market, _, parties, _ = book
    start = timezone.now() - timedelta(days=31)
    trades = []
    for i, (buyer, shift, ticks, lots, seconds) in enumerate(specs):
        seller = (buyer + shift) % 4
        trades.append(_trade(market, parties[buyer], parties[seller], ticks * market.tick_size, lots,
                             start + timedelta(seconds=seconds), f"h-{i}"))
    trades.sort(key=lambda t: t.at)
    held = dict(Account.objects.values_list("id", "held"))
    sid = transaction.savepoint()
    try:
        assert load_history(trades, key=f"prop-{len(specs)}-{batch}", batch=batch) == len(trades)
        _check_deferred()
        assert all(row["balanced"] for row in conservation())
        assert dict(Account.objects.filter(id__in=held).values_list("id", "held")) == held
        with connection.cursor() as cur:
            cur.execute("""SELECT a.id FROM ledger_account a
                             LEFT JOIN (SELECT account_id, sum(amount) FILTER (WHERE bucket = 'A') av,
                                               sum(amount) FILTER (WHERE bucket = 'H') h
                                          FROM ledger_posting GROUP BY 1) p ON p.account_id = a.id
                            WHERE a.available <> coalesce(p.av, 0) OR a.held <> coalesce(p.h, 0)""")
            assert cur.fetchall() == []
        assert_rollups_match_trades()
        memo = json.loads(json.dumps(LedgerTransaction.objects.filter(kind="settle").latest("id").memo))
        assert memo["market"] == market.id
    finally:
        transaction.savepoint_rollback(sid)


def test_sessions_the_history_moves_past_are_closed_as_the_live_path_closes_them(book):
    """Three local days of trades: the first two sessions closed with their figures (VWAP rounded half up
    to the fen), the market resting in the third with the second's VWAP as its reference price — what
    `market_lock` leaves when orders arrive over those days."""
    from marketplace.models import Market, SessionClose

    market, _, (a, b, c, _), _ = book
    day0 = timezone.localtime(timezone.now() - timedelta(days=5)).replace(hour=10, minute=0, second=0,
                                                                         microsecond=0)
    prices = [[30_000_00, 30_001_00], [30_100_00, 30_300_00, 30_200_00], [29_900_00]]
    trades, lots = [], 1
    for d, day_prices in enumerate(prices):
        for i, price in enumerate(day_prices):
            lots = lots % 3 + 1
            trades.append(_trade(market, a if i % 2 else c, b, price, lots, day0 + timedelta(days=d, minutes=i),
                                 f"s-{d}-{i}"))
    load_batch(trades, key="sessions")
    closes = {c.session: c for c in SessionClose.objects.filter(market=market)}
    days = [(day0 + timedelta(days=d)).date().isoformat() for d in range(3)]
    assert sorted(closes) == days[:2]
    for d in range(2):
        mine = [t for t in trades if t.at.date().isoformat() == days[d]]
        volume = sum(t.quantity for t in mine)
        value = sum(-(-t.price * t.quantity // 10**market.asset.scale) for t in mine)
        close = closes[days[d]]
        assert (close.open, close.high, close.low, close.trades, close.volume, close.value) == \
            (mine[0].price, max(t.price for t in mine), min(t.price for t in mine), len(mine), volume, value)
        assert close.close == (2 * value * 10**market.asset.scale + volume) // (2 * volume)
    market = Market.objects.get(pk=market.pk)
    assert market.current_session == days[2] and market.reference_price == closes[days[1]].close


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 80), st.integers(0, 80), st.sampled_from(["month", "quarter", "year"]))
def test_monthly_reports_read_whole_months_from_the_monthly_rollup_and_agree_with_the_daily(book, make_org,
                                                                                            make_member, a, b,
                                                                                            period):
    """A report by month, quarter or year over any date range equals the same report summed from the
    daily rows: the whole months come from `FlowMonthly`, the partial ones from the daily summary."""
    from oversight.reports import volume_report
    from oversight.scope import Scope
    from trading.bulk import batch_loaded

    market, farmland, (p, q, r, _), county = book
    start = timezone.now() - timedelta(days=90)
    if not batch_loaded("months"):  # the fixture is made once per test, the examples share it
        load_batch([_trade(market if i % 3 else farmland, p if i % 2 else r, q if i % 3 else county,
                           30_000_00 + i * 100, 1 + i % 3, start + timedelta(hours=13 * i), f"m-{i}")
                    for i in range(160)], key="months")
        flow_rollup()
    scope = Scope(make_member(make_org("regulator", "350000", jurisdiction="350000"), role="viewer"))
    lo, hi = sorted((timezone.localdate() - timedelta(days=a), timezone.localdate() - timedelta(days=b)))
    by_period = volume_report(scope, period=period, since=lo, until=hi)
    by_day = volume_report(scope, period="day", since=lo, until=hi)
    trunc = {"month": lambda d: d.replace(day=1),
             "quarter": lambda d: d.replace(month=(d.month - 1) // 3 * 3 + 1, day=1),
             "year": lambda d: d.replace(month=1, day=1)}[period]
    summed: dict = {}
    for row in by_day:
        key = (trunc(row["period"]), row["right_type"], row["region"])
        n, value = summed.get(key, (0, 0))
        summed[key] = (n + row["trades"], value + Decimal(row["value"]))
    assert {(row["period"], row["right_type"], row["region"]): (row["trades"], Decimal(row["value"]))
            for row in by_period} == summed

