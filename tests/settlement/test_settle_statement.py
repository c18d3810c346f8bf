"""The settlement's one writing statement, now composed from the ledger's, trading's and the audit log's
fragments (`trading.settlement.sql.settle_statement`), writes exactly what the hand-written statement it replaced
wrote: the same settlement runs once with each (the earlier one frozen below, fed the same values in its
24-parameter order) and every row either wrote is compared, ids and the journal's own timestamp aside."""
from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.models import AuditEvent
from core.prepared import PreparedQuery
from ledger.models import Account, LedgerTransaction, Posting
from trading.models import SettlementOutbox, Trade, TradeEvent, WebhookDelivery, WebhookEndpoint
from trading.orderbook.services import order_place
from trading.settlement import services as settlement
from trading.settlement.sql import settle_statement

SYSTEM = Actor.system()

# the statement as trading/settlement.py spelled it before the fragments (commit 6b4eeb2), verbatim
LEGACY = PreparedQuery(
    """WITH journal AS (
           INSERT INTO ledger_ledgertransaction
                  (kind, idempotency_key, request, actor_user_id, actor_organization_id, reference_type,
                   reference_id, memo, hash_version)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 1)
           ON CONFLICT (idempotency_key) DO NOTHING RETURNING id),
       postings AS (
           INSERT INTO ledger_posting (transaction_id, account_id, asset_id, bucket, amount)
           SELECT journal.id, l.account_id, l.asset_id, l.bucket, l.amount
             FROM journal, unnest(%s, %s, %s, %s) WITH ORDINALITY AS l(account_id, asset_id, bucket, amount, n)
            ORDER BY l.n),
            settled AS (UPDATE trading_trade t SET status = 'settled', ledger_transaction_id = journal.id,
                                                 settled_at = %s
                          FROM journal WHERE t.id = %s),
            outbox AS (UPDATE trading_settlementoutbox o SET status = 'done', done_at = %s
                         FROM journal WHERE o.trade_id = %s AND o.status = 'pending'),
            events AS (INSERT INTO trading_tradeevent (trade_id, status, detail, created_at)
                       SELECT %s, e.status,
                              CASE WHEN e.n = 1 THEN jsonb_build_object('previous', %s::text)
                                   ELSE jsonb_build_object('ledger_transaction', journal.id) END, %s
                         FROM journal, (VALUES (1, 'settling'), (2, 'settled')) e(n, status)
                        ORDER BY e.n),
            audit AS (INSERT INTO accounts_auditevent (occurred_at, actor_user_id, actor_organization_id,
                                                       action, object_type, object_id, before, after,
                                                       request_id, region_codes)
                      SELECT %s, %s, %s, a.action, 'trade', %s, a.before,
                             CASE WHEN a.n = 1 THEN a.after
                                  ELSE a.after || jsonb_build_object('ledger_transaction', journal.id) END,
                             %s, %s
                        FROM journal, (VALUES (1, 'trade.settling', %s::jsonb, %s::jsonb),
                                              (2, 'trade.settle', %s::jsonb, %s::jsonb)) a(n, action, before, after)
                       ORDER BY a.n)
            SELECT journal.id, w.id, w.organization_id, w.events
              FROM journal LEFT JOIN trading_webhookendpoint w
                ON w.active AND w.organization_id IN (%s, %s)""",
    ["varchar", "varchar", "jsonb", "bigint", "bigint", "varchar", "varchar", "jsonb",
     "bigint[]", "bigint[]", "varchar[]", "bigint[]", "timestamptz", "bigint", "timestamptz", "bigint",
     "bigint", "varchar", "timestamptz",
     "timestamptz", "bigint", "bigint", "varchar", "varchar", "jsonb",
     "jsonb", "jsonb", "jsonb", "jsonb", "bigint", "bigint"])
JOURNAL = ["journal_kind", "journal_key", "journal_request", "journal_user", "journal_organization",
           "journal_reference_type", "journal_reference_id", "journal_memo", "legs_account", "legs_asset",
           "legs_bucket", "legs_amount"]


class _Legacy:
    """Stands in for `trading.settlement.sql.SETTLE`: the frozen statement, fed the composed statement's named
    parameters in the old positional order."""

    def execute(self, cur, p):
        LEGACY.execute(cur, [*(p[name] for name in JOURNAL), p["now"], p["trade"], p["now"], p["trade"],
                             p["trade"], p["previous"], p["now"],
                             p["audit_at"], p["audit_user"], p["audit_organization"], p["audit_object_id"],
                             p["audit_request_id"], p["audit_regions"],
                             p["settling_before"], p["settling_after"], p["settled_before"], p["settled_after"],
                             p["buyer"], p["seller"]])


def _no_ids(row: dict, journal_id: int) -> dict:
    out = {}
    for key, value in row.items():
        if key == "id" or key == "created_at" and "xid" in row:
            continue
        if isinstance(value, dict) and value.get("ledger_transaction") == journal_id:
            value = {**value, "ledger_transaction": "<journal>"}
        out[key] = "<journal>" if key in ("ledger_transaction_id", "transaction_id") and value == journal_id \
            else value
    return out


def _written(trade: Trade) -> dict:
    """Every row a settlement of `trade` wrote (ids aside)."""
    journal = LedgerTransaction.objects.filter(idempotency_key=f"settle:trade:{trade.id}").values().get()
    jid = journal["id"]
    # an account the settlement opened has another id in each run (the rollback does not reset sequences)
    accounts = {a: (org, asset, kind, shard) for a, org, asset, kind, shard in
                Account.objects.values_list("id", "organization_id", "asset_id", "kind", "shard")}
    postings = Posting.objects.filter(transaction_id=jid).order_by("id").values()
    return {
        "journal": _no_ids(journal, jid),
        "postings": [_no_ids({**p, "account_id": accounts[p["account_id"]]}, jid) for p in postings],
        "trade": _no_ids(Trade.objects.filter(pk=trade.pk).values().get(), jid),
        "outbox": _no_ids(SettlementOutbox.objects.filter(trade=trade).values().get(), jid),
        "events": [_no_ids(e, jid) for e in TradeEvent.objects.filter(trade=trade).order_by("id").values()],
        "audit": [_no_ids(a, jid) for a in AuditEvent.objects.filter(object_type="trade", object_id=str(trade.id))
                  .order_by("id").values()],
        # recorded from the endpoints the statement returns (the payload is stamped with the clock)
        "webhooks": list(WebhookDelivery.objects.filter(trade_id=trade.id).order_by("id").values_list(
            "endpoint_id", "event", "status")),
        "balances": sorted((accounts[a], available, held) for a, available, held in Posting.objects.filter(
            transaction_id=jid).values_list("account__id", "account__available", "account__held").distinct()),
    }


def _settled_with(query, trade: Trade, now, monkeypatch) -> dict:
    """Settle `trade` with `query` as the writing statement, read what was written, undo it all."""
    class _Undo(Exception):
        pass

    written = {}
    with monkeypatch.context() as m:
        m.setattr(settlement, "SETTLE", query)
        try:
            with transaction.atomic():
                assert settlement.trade_settle(trade_id=trade.id, now=now) == "settled"
                written.update(_written(trade))
                raise _Undo
        except _Undo:
            pass
    return written


@pytest.fixture
def crossed(make_org, make_market, fund, operator_org):
    def cross(*, fee_bps: int, webhook: bool) -> Trade:
        market = make_market(fee_bps=fee_bps, fee_min=100 if fee_bps else 0)
        buyer, seller = make_org("enterprise", "350102"), make_org("enterprise", "350203")
        fund(buyer, cny=100_000_000)
        fund(seller, market=market, quantity=100_000)
        if webhook:
            WebhookEndpoint.objects.create(organization=buyer, url="https://hooks.example.com/b", secret="s" * 40,
                                           events=[])
            WebhookEndpoint.objects.create(organization=seller, url="https://hooks.example.com/s", secret="t" * 40,
                                           events=["settled"])
        order_place(actor=SYSTEM, organization=seller, market_id=market.id, side="sell", price=10_000,
                    quantity=3_000)
        placed = order_place(actor=SYSTEM, organization=buyer, market_id=market.id, side="buy", price=10_200,
                             quantity=3_000)
        (trade,) = placed.trades
        return trade
    return cross


@pytest.mark.django_db
@pytest.mark.parametrize("fee_bps,webhook", [(0, False), (30, False), (25, True)])
def test_composed_statement_writes_what_the_hand_written_one_wrote(crossed, fee_bps, webhook, monkeypatch):
    trade = crossed(fee_bps=fee_bps, webhook=webhook)
    now = timezone.now()
    composed = _settled_with(settlement.SETTLE, trade, now, monkeypatch)
    legacy = _settled_with(_Legacy(), trade, now, monkeypatch)
    # seller rights held and to the buyer, buyer cash held, back and to the seller (+ two fee legs)
    assert composed["trade"]["status"] == "settled" and len(composed["postings"]) == (7 if fee_bps else 5)
    assert [e["status"] for e in composed["events"]][-2:] == ["settling", "settled"]
    assert [a["action"] for a in composed["audit"]][-2:] == ["trade.settling", "trade.settle"]
    assert ("settled" in {event for _, event, _ in composed["webhooks"]}) == webhook
    assert composed == legacy
    assert Trade.objects.get(pk=trade.pk).status == "matched"  # both runs were undone


def test_composed_statement_is_one_statement_with_named_parameters():
    statement = settle_statement()
    text = statement.text
    assert text.lstrip().startswith("WITH journal AS (") and ";" not in text
    for cte in ("postings AS (", "settled AS (", "outbox AS (", "events AS (", "audit AS ("):
        assert text.count(cte) == 1
    # each value once: the 31 positional parameters of the hand-written statement are 28 names
    assert len(statement.names()) == len(set(statement.names())) == 28
    assert {"now", "trade", "previous", "buyer", "seller", "audit_at", "journal_key", "legs_amount"} <= \
        set(statement.names())


@pytest.mark.django_db
def test_composed_statement_is_prepared_once_per_session(crossed):
    trade = crossed(fee_bps=0, webhook=False)
    settlement.trade_settle(trade_id=trade.id)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = %s", [settlement.SETTLE.name])
        assert cur.fetchone() == (1,)
