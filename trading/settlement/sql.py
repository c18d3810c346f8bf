"""The hand-written SQL of settlement, on trading's tables, and the one statement it composes of other
apps' fragments.

* `TRADE_LOCK`: SELECT … FOR UPDATE of the trade with its parties, market and outbox row, the CNY asset's
  and the operator's ids and the rulebook generation; a `PreparedJoin`, prepared once per session.
* `settle_statement`: everything a settlement writes, ONE statement composed of the ledger's journal and
  postings (`ledger.sql.journal_cte`), this module's fragments for the trade's status, its outbox row
  and its two events, and two audit events (`accounts.sql.audit_cte`), with named parameters
  (`settle_params`); `SETTLE` prepares it once per session (`core.prepared`).
* `settlement_batches_sql`: the day's settlement batches (`trading.settlement.reports`).
* `OUTBOX_COUNT_ATTEMPT`, `OUTBOX_DUE`: the outbox's retry bookkeeping and the sweeper's read
  (`trading.tasks.settlement`).

Table and column names come from the models (`_meta`); other apps' tables only through their models
or their `sql` modules.
"""
from __future__ import annotations

import json

from accounts.actor import Actor
from accounts.models import Organization
from accounts.sql import audit_cte, audit_params
from core.prepared import BulkInsert, PreparedJoin, PreparedQuery, Sql
from ledger.models import Asset
from ledger.sql import journal_cte
from marketplace.models import Market
from marketplace.sql import rules_generation
from trading.models import (
    Order,
    OutboxStatus,
    SettlementOutbox,
    Trade,
    TradeEvent,
    TradeStatus,
    WebhookEndpoint,
)

TRADE, OUTBOX = Trade._meta.db_table, SettlementOutbox._meta.db_table
EVENT, ENDPOINT = TradeEvent._meta.db_table, WebhookEndpoint._meta.db_table


def _col(model, name: str) -> str:
    return model._meta.get_field(name).column


def _trade_lock(columns: str) -> Sql:
    asset, org, generation = Asset._meta.db_table, Organization._meta.db_table, rules_generation()
    return Sql(f"""SELECT {columns},
                          (SELECT id FROM {asset} WHERE code = 'CNY'),
                          (SELECT id FROM {org} WHERE kind = 'exchange_operator' ORDER BY id LIMIT 1),
                          {generation}
                     FROM {TRADE} t
                     JOIN {org} b ON b.id = t.buyer_id
                     JOIN {org} s ON s.id = t.seller_id
                     LEFT JOIN {Market._meta.db_table} m ON m.id = t.market_id
                     LEFT JOIN {OUTBOX} o ON o.trade_id = t.id
                    WHERE t.id = %(trade)s
                      FOR UPDATE OF t""", generation, trade="bigint")  # planning this join cost 5x running it


# SELECT … FOR UPDATE OF the trade row, joined with the parties, the market and the outbox row, plus the
# ids of the CNY asset and of the operator and the rulebook generation: what `select_related` + two
# `Subquery` annotations would run, without compiling that queryset per settlement (it cost more CPU
# than the rest of a settlement).
TRADE_LOCK = PreparedJoin(
    ("t", Trade), ("b", Organization), ("s", Organization), ("m", Market), ("o", SettlementOutbox),
    statement=_trade_lock, links=(("t", "buyer", "b"), ("t", "seller", "s"), ("t", "market", "m"), ("o", "trade", "t")),
    extras=("cny_id", "operator_id", "rules_generation"))


def trade_settled_cte(name: str = "settled") -> Sql:
    """The trade becomes SETTLED with the ledger transaction `journal.id` (nothing when `journal` is empty)."""
    return Sql(f"""{name} AS (
               UPDATE {TRADE} t SET {_col(Trade, "status")} = '{TradeStatus.SETTLED.value}',
                                    {_col(Trade, "ledger_transaction_id")} = journal.id,
                                    {_col(Trade, "settled_at")} = %(now)s
                 FROM journal WHERE t.id = %(trade)s)""", now="timestamptz", trade="bigint")


def outbox_done_cte(name: str = "outbox") -> Sql:
    """The trade's pending outbox row is done (when `journal` is not empty)."""
    return Sql(f"""{name} AS (
               UPDATE {OUTBOX} o SET {_col(SettlementOutbox, "status")} = '{OutboxStatus.DONE.value}',
                                     {_col(SettlementOutbox, "done_at")} = %(now)s
                 FROM journal WHERE o.trade_id = %(trade)s AND o.status = '{OutboxStatus.PENDING.value}')""",
               now="timestamptz", trade="bigint")


def settle_events_cte(name: str = "events") -> Sql:
    """The trade's two events, SETTLING (from `previous`) then SETTLED (with the ledger transaction)."""
    columns = ", ".join(_col(TradeEvent, f) for f in ("trade", "status", "detail", "created_at"))
    return Sql(f"""{name} AS (
               INSERT INTO {EVENT} ({columns})
               SELECT %(trade)s, e.status,
                      CASE WHEN e.n = 1 THEN jsonb_build_object('previous', %(previous)s::text)
                           ELSE jsonb_build_object('ledger_transaction', journal.id) END, %(now)s
                 FROM journal, (VALUES (1, '{TradeStatus.SETTLING.value}'), (2, '{TradeStatus.SETTLED.value}'))
                      e(n, status)
                ORDER BY e.n)""", trade="bigint", previous="varchar", now="timestamptz")


def settle_statement() -> Sql:
    """Everything a settlement writes, in one statement: the ledger transaction (journal row and
    postings), the trade's status and ledger transaction, its outbox row, its two events and two audit
    events. Every write but the ledger's joins the journal CTE, so when the ledger key is already taken
    nothing at all is written (and no row comes back). It returns the ledger transaction id, with the
    parties' active webhook endpoints (one row each, or one row of NULLs)."""
    journal, settled, outbox, events = journal_cte(), trade_settled_cte(), outbox_done_cte(), settle_events_cte()
    audit_rows = Sql("""journal, (VALUES (1, 'trade.settling', %(settling_before)s::jsonb, %(settling_after)s::jsonb),
                                        (2, 'trade.settle', %(settled_before)s::jsonb, %(settled_after)s::jsonb))
                              a(n, action, before, after)""",
                     settling_before="jsonb", settling_after="jsonb", settled_before="jsonb", settled_after="jsonb")
    audit = audit_cte(source=audit_rows, action="a.action", before="a.before", order_by="a.n",
                      after="""CASE WHEN a.n = 1 THEN a.after
                                    ELSE a.after || jsonb_build_object('ledger_transaction', journal.id) END""")
    return Sql(f"""WITH {journal}, {settled}, {outbox}, {events}, {audit}
                   SELECT journal.id, w.id, w.organization_id, w.events
                     FROM journal LEFT JOIN {ENDPOINT} w
                       ON w.active AND w.organization_id IN (%(buyer)s, %(seller)s)""",
               journal, settled, outbox, events, audit, buyer="bigint", seller="bigint")


SETTLE = PreparedQuery(settle_statement())


def settle_params(*, ledger: dict, trade: Trade, previous: str, now, actor: Actor, regions: list[str],
                  settled_after: dict) -> dict:
    """The parameters of `settle_statement`: `ledger` from `ledger.sql.journal_params`, the rest from
    the trade as it was when locked (`previous`, its status then)."""
    return {**ledger, "now": now, "trade": trade.id, "previous": previous, "buyer": trade.buyer_id,
            "seller": trade.seller_id,
            **audit_params(actor=actor, at=now, object_type="trade", object_id=trade.id, region_codes=regions),
            "settling_before": json.dumps({"status": previous}),
            "settling_after": json.dumps({"status": TradeStatus.SETTLING.value}),
            "settled_before": json.dumps({"status": TradeStatus.SETTLING.value}),
            "settled_after": json.dumps(settled_after)}


# --- settlement reports -------------------------------------------------------------------------------

def settlement_batches_sql(market_filter: str, failed_listed: int) -> str:
    """Per (market, instrument): the trades of a settlement day (matched in [lo, hi), dated by their
    end-of-day cut-off or their creation in the time zone given), settled / failed / open counts and
    sums, the first `failed_listed` failures. Parameters: time zone, lo, hi, day, then those of
    `market_filter` (an `AND b.…` clause)."""
    return f"""
            WITH batch AS (
                SELECT t.*, o.not_before, (coalesce(o.not_before, t.created_at) AT TIME ZONE %s)::date AS day
                  FROM {TRADE} t LEFT JOIN {OUTBOX} o ON o.trade_id = t.id
                 WHERE t.created_at >= %s AND t.created_at < %s)
            SELECT b.market_id, m.code, coalesce(m.settlement_mode, 'rtgs'), m.eod_cutoff, b.asset_id, a.code, a.scale,
                   count(*),
                   count(*) FILTER (WHERE b.status = 'settled'),
                   coalesce(sum(b.value) FILTER (WHERE b.status = 'settled'), 0),
                   coalesce(sum(b.quantity) FILTER (WHERE b.status = 'settled'), 0),
                   coalesce(sum(b.buyer_fee) FILTER (WHERE b.status = 'settled'), 0),
                   coalesce(sum(b.seller_fee) FILTER (WHERE b.status = 'settled'), 0),
                   count(*) FILTER (WHERE b.status IN ('failed', 'rejected')),
                   coalesce(sum(b.value) FILTER (WHERE b.status IN ('failed', 'rejected')), 0),
                   count(*) FILTER (WHERE b.status NOT IN ('settled', 'failed', 'rejected')),
                   coalesce(sum(b.value) FILTER (WHERE b.status NOT IN ('settled', 'failed', 'rejected')), 0),
                   min(b.not_before), min(b.settled_at), max(b.settled_at),
                   (array_agg(json_build_array(b.id, b.status, b.value, b.failure_reason) ORDER BY b.id)
                      FILTER (WHERE b.status IN ('failed', 'rejected')))[1:{failed_listed}]
              FROM batch b
              JOIN {Asset._meta.db_table} a ON a.id = b.asset_id
              LEFT JOIN {Market._meta.db_table} m ON m.id = b.market_id
             WHERE b.day = %s {market_filter}
             GROUP BY b.market_id, m.code, m.settlement_mode, m.eod_cutoff, b.asset_id, a.code, a.scale
             ORDER BY m.code NULLS LAST, a.code"""


# --- the outbox (trading.tasks.settlement) ---------------------------------------------------------------

# one failed (or lost) attempt on the pending outbox row; its next nudge moves to after the back-off
OUTBOX_COUNT_ATTEMPT = Sql(f"""UPDATE {OUTBOX}
                                  SET attempts = attempts + 1, last_error = %(error)s,
                                      last_enqueued_at = now() + %(delay)s * interval '1 second'
                                WHERE trade_id = %(trade)s AND status = '{OutboxStatus.PENDING.value}'
                            RETURNING attempts""", error="varchar", delay="float8", trade="bigint")

# pending rows due (past their cut-off, not nudged lately: the wait grows with the row's age, between
# `after` and `max_interval` seconds) of trades still to settle, oldest first, with the database time
OUTBOX_DUE = Sql(f"""SELECT o.id, o.trade_id, o.queue, clock_timestamp()
                       FROM {OUTBOX} o JOIN {TRADE} t ON t.id = o.trade_id
                      WHERE o.status = '{OutboxStatus.PENDING.value}'
                        AND (o.not_before IS NULL OR o.not_before <= clock_timestamp())
                        AND (o.last_enqueued_at IS NULL OR o.last_enqueued_at < clock_timestamp() - least(
                               %(max_interval)s * interval '1 second',
                               greatest(%(after)s * interval '1 second',
                                        o.last_enqueued_at - coalesce(o.not_before, o.created_at))))
                        AND t.status IN ('{TradeStatus.MATCHED.value}', '{TradeStatus.APPROVED.value}',
                                         '{TradeStatus.SETTLING.value}')
                      ORDER BY o.created_at LIMIT %(batch)s""", max_interval="float8", after="float8", batch="bigint")


# --- bulk history (`trading.bulk`) -------------------------------------------------------------------------
# Every statement reads the caller's staging table (a temporary table, one row per trade: see
# `trading.bulk.STAGE_COLUMNS`) and writes one batch in one statement. Ids come from the tables' own
# sequences, drawn in trade-time order before the batch is staged, so ids grow with time as they do live.

ORDER = Order._meta.db_table


def ids_sql(model) -> str:
    """`count` (the one parameter) new ids of a trading table (`Order` or `Trade`), ascending."""
    return f"""SELECT nextval(pg_get_serial_sequence('{model._meta.db_table}', 'id'))
                 FROM generate_series(1, %s) ORDER BY 1"""


def bulk_orders_sql(stage: str) -> str:
    """The two orders of each staged trade, both filled by it: the resting sell (placed a second before
    the trade) and the buy that crossed it (at the trade's time), escrow all spent."""
    return f"""INSERT INTO {ORDER} (id, market_id, organization_id, user_id, side, time_in_force, price, quantity,
                      remaining, filled_value, fees_charged, hold_remaining, status, cancel_reason, session,
                      rule_version, client_order_id, created_at, updated_at)
               SELECT o.id, s.market_id, o.org, NULL, o.side, 'gtc', s.price, s.quantity, 0, s.value, o.fee, 0,
                      'filled', '', s.session, NULL, s.client_tag || o.suffix, o.at, s.matched_at
                 FROM {stage} s, LATERAL (VALUES
                      (s.sell_order_id, s.seller_id, 'sell', s.seller_fee, '-s', s.matched_at - interval '1 second'),
                      (s.buy_order_id, s.buyer_id, 'buy', s.buyer_fee, '-b', s.matched_at)) o(id, org, side, fee,
                                                                                               suffix, at)
                ORDER BY o.id"""


def bulk_trades_sql(stage: str) -> str:
    """The staged trades, already SETTLED with their ledger transactions. Inserting them settled is
    what the flow roll-up triggers on the trade table expect of a load (`oversight.models`): a batch of
    1,000 or more goes straight into the daily summary and the totals, a smaller one into the deltas."""
    return f"""INSERT INTO {TRADE} (id, market_id, asset_id, source, buy_order_id, sell_order_id, listing_id,
                      buyer_id, seller_id, price, quantity, value, buyer_fee, seller_fee, buyer_hold, seller_hold,
                      aggressor, status, session, rule_version, ledger_transaction_id, failure_reason, created_at,
                      settled_at)
               SELECT s.trade_id, s.market_id, s.asset_id, 'order_book', s.buy_order_id, s.sell_order_id, NULL,
                      s.buyer_id, s.seller_id, s.price, s.quantity, s.value, s.buyer_fee, s.seller_fee,
                      s.value + s.buyer_fee, s.quantity, 'buy', '{TradeStatus.SETTLED.value}', s.session, NULL,
                      s.txn_id, '', s.matched_at, s.settled_at
                 FROM {stage} s ORDER BY s.trade_id"""


def bulk_trade_events_sql(stage: str) -> str:
    """Each trade's lifecycle as the live paths write it: MATCHED (matching), SETTLING and SETTLED
    (the settlement statement, `settle_events_cte`)."""
    return f"""INSERT INTO {EVENT} (trade_id, status, detail, created_at)
               SELECT s.trade_id, e.status, e.detail, e.at
                 FROM {stage} s, LATERAL (VALUES
                      (1, '{TradeStatus.MATCHED.value}', jsonb_build_object('source', 'order_book'), s.matched_at),
                      (2, '{TradeStatus.SETTLING.value}', jsonb_build_object('previous', 'matched'), s.settled_at),
                      (3, '{TradeStatus.SETTLED.value}', jsonb_build_object('ledger_transaction', s.txn_id),
                       s.settled_at)) e(n, status, detail, at)
                ORDER BY s.trade_id, e.n"""


def bulk_outbox_sql(stage: str) -> str:
    """Each trade's outbox row, done at its settlement."""
    return f"""INSERT INTO {OUTBOX} (trade_id, status, queue, not_before, attempts, last_enqueued_at, last_error,
                      created_at, done_at)
               SELECT s.trade_id, '{OutboxStatus.DONE.value}', s.queue, NULL, 0, s.matched_at, '', s.matched_at,
                      s.settled_at
                 FROM {stage} s ORDER BY s.trade_id"""


def bulk_journal_source(stage: str) -> str:
    """The settlement journal row of each staged trade, as `trade_settle` writes it (for
    `ledger.sql.bulk_journal_sql`): kind settle, key settle:trade:<id>, the system actor."""
    return f"""SELECT s.txn_id, 'settle', 'settle:trade:' || s.trade_id,
                      jsonb_build_object('trade', s.trade_id, 'value', s.value, 'quantity', s.quantity),
                      NULL::bigint, NULL::bigint, 'trade', s.trade_id::text,
                      jsonb_build_object('buyer', s.buyer_id, 'seller', s.seller_id, 'price', s.price,
                                         'buyer_fee', s.buyer_fee, 'seller_fee', s.seller_fee,
                                         'proceeds_account', s.proceeds_kind, 'market', s.market_id,
                                         'listing', NULL)
                 FROM {stage} s"""


def bulk_postings_source(stage: str) -> str:
    """The legs of each staged trade's settlement (for `ledger.sql.bulk_postings_sql`), those of
    `trade_settle`: the seller's held rights to the buyer, the buyer's held cash to the seller (or its
    earmarked fund) less the fees, one fee leg per side to the operator's fee account of the market's
    settlement queue. Escrow equals cost exactly (the buy order's limit is the trade price), so the
    price-improvement and unsold-rights legs are zero and dropped, as `legs_in_lock_order` drops them."""
    return f"""SELECT s.txn_id, l.account_id, l.asset_id, l.bucket, l.amount
                 FROM {stage} s, LATERAL (VALUES
                      (s.seller_rights, s.asset_id, 'H', -s.quantity),
                      (s.buyer_rights, s.asset_id, 'A', s.quantity),
                      (s.buyer_cash, s.cny_id, 'H', -(s.value + s.buyer_fee)),
                      (s.seller_cash, s.cny_id, 'A', s.value - s.seller_fee),
                      (s.fee_account, s.cny_id, 'A', s.buyer_fee),
                      (s.fee_account, s.cny_id, 'A', s.seller_fee)) l(account_id, asset_id, bucket, amount)"""


def bulk_audit_source(stage: str) -> str:
    """The audit events of each staged trade (for `accounts.sql.bulk_audit_sql`): `order.place` of both
    orders (by their organizations), `trade.settling` and `trade.settle` (by the system), with the
    payloads the live paths write."""
    return f"""SELECT a.at, NULL::bigint, a.org, a.action, a.object_type, a.object_id, a.before, a.after, '',
                      a.regions
                 FROM {stage} s, LATERAL (VALUES
                      (s.matched_at - interval '1 second', s.seller_id, 'order.place', 'order', s.sell_order_id::text,
                       NULL::jsonb,
                       jsonb_build_object('market', s.market_code, 'side', 'sell', 'price', s.price,
                                          'quantity', s.quantity, 'time_in_force', 'gtc', 'status', 'open',
                                          'trades', '[]'::jsonb),
                       jsonb_build_array(s.seller_region)),
                      (s.matched_at, s.buyer_id, 'order.place', 'order', s.buy_order_id::text, NULL::jsonb,
                       jsonb_build_object('market', s.market_code, 'side', 'buy', 'price', s.price,
                                          'quantity', s.quantity, 'time_in_force', 'gtc', 'status', 'filled',
                                          'trades', jsonb_build_array(s.trade_id)),
                       jsonb_build_array(s.buyer_region)),
                      (s.settled_at, NULL::bigint, 'trade.settling', 'trade', s.trade_id::text,
                       jsonb_build_object('status', 'matched'), jsonb_build_object('status', 'settling'),
                       jsonb_build_array(s.buyer_region, s.seller_region)),
                      (s.settled_at, NULL::bigint, 'trade.settle', 'trade', s.trade_id::text,
                       jsonb_build_object('status', 'settling'),
                       jsonb_build_object('status', 'settled', 'value', s.value,
                                          'fees', jsonb_build_array(s.buyer_fee, s.seller_fee),
                                          'proceeds_account', s.proceeds_kind, 'ledger_transaction', s.txn_id),
                       jsonb_build_array(s.buyer_region, s.seller_region)))
                      a(at, org, action, object_type, object_id, before, after, regions)"""


# the outbox rows of newly matched trades (`trading.orderbook.services._write_trades`)
OUTBOX_INSERT = BulkInsert(SettlementOutbox)
