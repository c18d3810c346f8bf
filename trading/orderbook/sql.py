"""The hand-written SQL of the order book, on trading's tables (and the fragments of others it composes).

* `MARKET_LOCK`: SELECT … FOR UPDATE of the market with its instrument and the rulebook generation
  (`marketplace.sql.rules_generation`); `BOOK`: the book reads of matching. `PreparedJoin`s, prepared
  once per database session (`core.prepared`).
* `orders_write_sql`: the matching state of many orders in one UPDATE; `SESSION_FIGURES`: a session's
  close from its trades; `BOOK_DEPTH` and `CANDLES`: market data (`trading.orderbook.selectors`).
* `MARKET_ACCEPT` and `ACCEPT`: the matching engine's acceptance (#19) — the market read under FOR KEY
  SHARE with the open-order cap's advisory lock, then ONE statement writing the order, its escrow hold,
  its request, its audit event and the idempotency record; `REQUESTS` and `REQUESTS_DONE`: the engine's
  read of its queue and the delete of what a batch took.

Table and column names come from the models (`_meta`).
"""
from __future__ import annotations

from accounts.models import Organization
from accounts.sql import audit_cte
from core.prepared import BulkInsert, PreparedJoin, PreparedQuery, Sql
from ledger.models import Asset
from ledger.sql import journal_keyed_cte
from marketplace.models import IdempotencyRecord, Market
from marketplace.sql import rules_generation
from trading.models import Order, OrderRequest, OrderRequestKind, OrderStatus, Trade, TradeEvent, TradeStatus

TRADE, ORDER = Trade._meta.db_table, Order._meta.db_table


def _market_lock(columns: str, strength: str = "UPDATE") -> Sql:
    generation = rules_generation()
    return Sql(f"""SELECT {columns}, {generation}
                     FROM {Market._meta.db_table} m
                     JOIN {Asset._meta.db_table} a ON a.id = m.asset_id
                    WHERE m.id = %(market)s FOR {strength} OF m""", generation, market="bigint")


# SELECT … FOR UPDATE OF the market row with its instrument and the rulebook generation (so the order's
# rule checks need no round trip of their own): what `select_for_update(of=("self",)).select_related("asset")`
# runs, without compiling it per order.
MARKET_LOCK = PreparedJoin(("m", Market), ("a", Asset), statement=_market_lock, links=(("m", "asset", "a"),),
                           extras=("rules_generation",))
# the matching engine's market lock (#19): FOR NO KEY UPDATE still excludes every inline writer (FOR UPDATE)
# and other engine batches, but not acceptances, which hold the row FOR KEY SHARE while they write
MARKET_LOCK_NO_KEY = PreparedJoin(("m", Market), ("a", Asset),
                                  statement=lambda columns: _market_lock(columns, "NO KEY UPDATE"),
                                  links=(("m", "asset", "a"),), extras=("rules_generation",))


# --- the engine's acceptance (#19) -------------------------------------------------------------------

# The market with its instrument and the rulebook generation, FOR KEY SHARE (acceptances of one market
# never wait for each other or for the engine's batch, which holds FOR NO KEY UPDATE), and the
# transaction advisory lock of the (market, organization) pair's open-order cap, taken before the write
# statement: that statement's snapshot, taken after the lock, then sees every acceptance of the pair
# that held it before, so two concurrent acceptances cannot both take the last place.
MARKET_ACCEPT = PreparedJoin(
    ("m", Market), ("a", Asset), links=(("m", "asset", "a"),), extras=("rules_generation", "cap_lock"),
    statement=lambda columns: Sql(f"""SELECT {columns}, {rules_generation()}, pg_advisory_xact_lock(%(cap_key)s)::text
                                        FROM {Market._meta.db_table} m
                                        JOIN {Asset._meta.db_table} a ON a.id = m.asset_id
                                       WHERE m.id = %(market)s FOR KEY SHARE OF m""",
                                  rules_generation(), market="bigint", cap_key="bigint"))


def _accept_statement() -> Sql:
    """Everything an acceptance writes, in one statement (data-modifying CTEs):

    * `ids`: the order's id, drawn from its sequence (the journal key, the audit row, the request and the
      stored response all need it);
    * `cap`: the organization's live (accepted or open) orders in the market below the cap (NULL: none);
    * `idem`: the idempotency record with the response (the order's id set into it), when a key was
      given and the cap allows; ON CONFLICT DO NOTHING, waiting for a concurrent duplicate to commit;
    * `go`: the id, once when the cap allows and the key (if any) was free — every write below reads it,
      so a refused acceptance or a replay writes nothing at all;
    * the order (`accepted`), the hold's journal row and postings (`ledger.sql.journal_keyed_cte`, key
      `order:<id>:hold` as `ledger.services.hold_place` writes it; the balance trigger and the CHECK
      constraints apply), the engine's request, the `order.place` audit event.
    Returns one row: whether the cap allowed, the order id (NULL when nothing was written), and wakes the
    market's engine (`pg_notify`, delivered at commit)."""
    order_columns = ("id", "market_id", "organization_id", "user_id", "side", "time_in_force", "price", "quantity",
                     "remaining", "filled_value", "fees_charged", "hold_remaining", "status", "cancel_reason",
                     "session", "rule_version", "client_order_id", "created_at", "updated_at")
    request_columns = ("market_id", "order_id", "kind", "new_remaining", "user_id", "request_id", "created_at")
    idem_columns = ("organization_id", "key", "fingerprint", "method_path", "request_body", "status_code",
                    "response_body", "created_at")
    live = f"'{OrderStatus.ACCEPTED.value}', '{OrderStatus.OPEN.value}'"
    journal = journal_keyed_cte(source="go", key="'order:' || go.id || ':hold'", reference_id="go.id::text")
    audit = audit_cte(source=Sql("go, (SELECT %(audit_after)s::jsonb AS after) x", audit_after="jsonb"),
                      action="'order.place'", before="NULL", after="x.after", order_by="go.id",
                      object_id="go.id::text")
    return Sql(f"""WITH ids AS MATERIALIZED (
                        SELECT nextval(pg_get_serial_sequence('{ORDER}', 'id')) AS id),
                   cap AS MATERIALIZED (
                        SELECT CASE WHEN %(cap)s::bigint IS NULL THEN true
                                    ELSE (SELECT count(*) FROM (SELECT 1 FROM {ORDER}
                                                                 WHERE organization_id = %(organization)s
                                                                   AND market_id = %(market)s
                                                                   AND status IN ({live})
                                                                 LIMIT %(cap)s) c) < %(cap)s END AS ok),
                   idem AS (
                        INSERT INTO {IdempotencyRecord._meta.db_table} ({", ".join(idem_columns)})
                        SELECT %(organization)s, %(idem_key)s, %(idem_fingerprint)s, %(idem_method_path)s,
                               %(idem_request)s, %(idem_status)s,
                               jsonb_set(%(idem_response)s, '{{order,id}}', to_jsonb(ids.id)), %(now)s
                          FROM ids, cap WHERE cap.ok AND %(idem_key)s IS NOT NULL
                        ON CONFLICT (organization_id, key) DO NOTHING RETURNING id),
                   go AS MATERIALIZED (
                        SELECT ids.id FROM ids, cap
                         WHERE cap.ok AND (%(idem_key)s IS NULL OR EXISTS (SELECT 1 FROM idem))),
                   placed AS (
                        INSERT INTO {ORDER} ({", ".join(order_columns)})
                        SELECT go.id, %(market)s, %(organization)s, %(user)s, %(side)s, %(time_in_force)s,
                               %(price)s, %(quantity)s, %(quantity)s, 0, 0, %(hold)s,
                               '{OrderStatus.ACCEPTED.value}', '', %(session)s, %(rule_version)s,
                               %(client_order_id)s, %(now)s, %(now)s
                          FROM go),
                   {journal},
                   queued AS (
                        INSERT INTO {OrderRequest._meta.db_table} ({", ".join(request_columns)})
                        SELECT %(market)s, go.id, '{OrderRequestKind.PLACE.value}', NULL, %(user)s,
                               %(audit_request_id)s, %(now)s
                          FROM go),
                   {audit}
              SELECT cap.ok, go.id,
                     CASE WHEN go.id IS NOT NULL THEN pg_notify(%(channel)s, %(market)s::text) END
                FROM cap LEFT JOIN go ON true""",
               journal, audit, cap="bigint", organization="bigint", market="bigint", idem_key="varchar",
               idem_fingerprint="varchar", idem_method_path="varchar", idem_request="jsonb", idem_status="smallint",
               idem_response="jsonb", now="timestamptz", user="bigint", side="varchar", time_in_force="varchar",
               price="bigint", quantity="bigint", hold="bigint", session="varchar", rule_version="integer",
               client_order_id="varchar", channel="text")


ACCEPT = PreparedQuery(_accept_statement())


# --- the engine's batch (#19) ----------------------------------------------------------------------------

# the next requests of a market's queue in id order, each with its order and the order's organization
# (what `select_related("order__organization")` reads, without compiling a queryset per batch)
REQUESTS = PreparedJoin(
    ("r", OrderRequest), ("o", Order), ("g", Organization),
    links=(("r", "order", "o"), ("o", "organization", "g")),
    statement=lambda columns: Sql(f"""SELECT {columns} FROM {OrderRequest._meta.db_table} r
                                        JOIN {ORDER} o ON o.id = r.order_id
                                        JOIN {Organization._meta.db_table} g ON g.id = o.organization_id
                                       WHERE r.market_id = %(market)s ORDER BY r.id LIMIT %(batch)s""",
                                  market="bigint", batch="bigint"))
# a matching's new trades and their first events, whatever their number (inline and the engine alike)
TRADES_INSERT = BulkInsert(Trade)
TRADE_EVENTS_INSERT = BulkInsert(TradeEvent)
# the markets with queued requests (the engine process's loop)
QUEUED_MARKETS = PreparedQuery(Sql(f"SELECT DISTINCT market_id FROM {OrderRequest._meta.db_table}"))
# the requests a batch took, deleted in the batch's transaction
REQUESTS_DONE = PreparedQuery(Sql(f"DELETE FROM {OrderRequest._meta.db_table} WHERE id = ANY(%(ids)s)",
                                  ids="bigint[]"))


def _book(side: str, after_cursor: bool):
    other, cmp, direction, after = {"buy": ("sell", "<=", "ASC", ">"), "sell": ("buy", ">=", "DESC", "<")}[side]

    def statement(columns: str) -> Sql:
        text = f"""SELECT {columns} FROM {ORDER} o
                     JOIN {Organization._meta.db_table} g ON g.id = o.organization_id
                    WHERE o.market_id = %(market)s AND o.status = '{OrderStatus.OPEN.value}' AND o.side = '{other}'
                      AND o.price {cmp} %(limit_price)s"""
        if after_cursor:  # keyset: strictly worse price, or the same price and a later id
            text += f""" AND o.price {after}= %(after_price)s
                      AND (o.price {after} %(after_price)s OR (o.price = %(after_price)s AND o.id > %(after_id)s))"""
            return Sql(f"{text} ORDER BY o.price {direction}, o.id ASC LIMIT %(batch)s", market="bigint",
                       limit_price="bigint", after_price="bigint", after_id="bigint", batch="bigint")
        return Sql(f"{text} ORDER BY o.price {direction}, o.id ASC LIMIT %(batch)s", market="bigint",
                   limit_price="bigint", batch="bigint")
    return PreparedJoin(("o", Order), ("g", Organization), statement=statement, links=(("o", "organization", "g"),))


# The book reads of matching, one per (side of the incoming order, first batch or after a cursor): open
# orders of the other side that cross the incoming limit, best first, each with its organization. They
# walk the partial indexes `order_book_asks` / `order_book_bids`.
BOOK = {(side, after): _book(side, after) for side in ("buy", "sell") for after in (False, True)}


def orders_write_sql(count: int) -> str:
    """Write the matching state of `count` orders in one UPDATE … FROM (VALUES …) (positional: the
    time, then id, remaining, filled value, fees charged, hold remaining, status, cancel reason per order)."""
    row = "(%s::bigint, %s::bigint, %s::bigint, %s::bigint, %s::bigint, %s::varchar, %s::varchar)"
    return f"""UPDATE {ORDER} AS o
                  SET remaining = v.remaining, filled_value = v.filled_value, fees_charged = v.fees_charged,
                      hold_remaining = v.hold_remaining, status = v.status, cancel_reason = v.cancel_reason,
                      updated_at = %s
                 FROM (VALUES {",".join([row] * count)})
                      AS v(id, remaining, filled_value, fees_charged, hold_remaining, status, cancel_reason)
                WHERE o.id = v.id"""


def engine_orders_write_sql(count: int) -> str:
    """The matching engine's write of `count` orders in one UPDATE, each row guarded by the `updated_at` the
    engine last saw (positional: the time, then id, quantity, remaining, filled value, fees charged, hold
    remaining, status, cancel reason, seen updated_at per order); fewer rows updated than given means an
    order changed behind the engine (`trading.orderbook.engine`)."""
    row = ("(%s::bigint, %s::bigint, %s::bigint, %s::bigint, %s::bigint, %s::bigint, %s::varchar, %s::varchar,"
           " %s::timestamptz)")
    return f"""UPDATE {ORDER} AS o
                  SET quantity = v.quantity, remaining = v.remaining, filled_value = v.filled_value,
                      fees_charged = v.fees_charged, hold_remaining = v.hold_remaining, status = v.status,
                      cancel_reason = v.cancel_reason, updated_at = %s
                 FROM (VALUES {",".join([row] * count)})
                      AS v(id, quantity, remaining, filled_value, fees_charged, hold_remaining, status, cancel_reason,
                           seen)
                WHERE o.id = v.id AND o.updated_at = v.seen"""


# a session's figures from its order-book trades (the session close; its VWAP becomes the reference price)
SESSION_FIGURES = Sql(f"""SELECT count(*), sum(quantity), sum(value), max(price), min(price),
                                 (array_agg(price ORDER BY id))[1]
                            FROM {TRADE}
                           WHERE market_id = %(market)s AND session = %(session)s AND source = 'order_book'
                             AND status NOT IN ('{TradeStatus.FAILED.value}', '{TradeStatus.REJECTED.value}')""",
                      market="bigint", session="varchar")




# --- market data (trading.orderbook.selectors) ---------------------------------------------------------

def _depth(side: str) -> Sql:
    direction = "DESC" if side == "buy" else "ASC"
    return Sql(f"""SELECT price, sum(remaining), count(*) FROM {ORDER}
                    WHERE market_id = %(market)s AND side = '{side}' AND status = '{OrderStatus.OPEN.value}'
                    GROUP BY price ORDER BY price {direction} LIMIT %(levels)s""", market="bigint", levels="bigint")


# open quantity and order count per price level, best first (through the partial index of the side)
BOOK_DEPTH = {side: _depth(side) for side in ("buy", "sell")}

# OHLCV per `step` bucket aligned to Asia/Shanghai midnight, the latest buckets first
CANDLES = Sql(f"""SELECT date_bin(%(step)s::interval, created_at, TIMESTAMPTZ '2000-01-03 00:00:00+08') AS bucket,
                         (array_agg(price ORDER BY id))[1], max(price), min(price),
                         (array_agg(price ORDER BY id DESC))[1], sum(quantity), sum(value), count(*)
                    FROM {TRADE}
                   WHERE market_id = %(market)s
                     AND status NOT IN ('{TradeStatus.FAILED.value}', '{TradeStatus.REJECTED.value}')
                   GROUP BY bucket ORDER BY bucket DESC LIMIT %(limit)s""",
              step="text", market="bigint", limit="bigint")


def session_figures_source(sessions: str) -> str:
    """Per (market, session) pair of `sessions` (a FROM item aliased `w`, columns market_id, session): the
    figures `_close_session` records (first price, high, low, the VWAP rounded half up to the fen,
    volume, value, trades) from the session's order-book trades created since the one parameter (a
    lower bound of the sessions' start: the index range) — for `marketplace.sql.bulk_session_closes_sql`."""
    return f"""SELECT t.market_id, t.session, (array_agg(t.price ORDER BY t.id))[1], max(t.price), min(t.price),
                      floor((2 * sum(t.value)::numeric * power(10::numeric, a.scale) + sum(t.quantity))
                            / (2 * sum(t.quantity)))::bigint,
                      sum(t.quantity), sum(t.value), count(*)
                 FROM {TRADE} t JOIN {Asset._meta.db_table} a ON a.id = t.asset_id
                 JOIN {sessions} ON w.market_id = t.market_id AND w.session = t.session
                WHERE t.source = 'order_book' AND t.created_at >= %s
                  AND t.status NOT IN ('{TradeStatus.FAILED.value}', '{TradeStatus.REJECTED.value}')
                GROUP BY t.market_id, t.session, a.scale"""
