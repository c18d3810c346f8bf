"""The hand-written SQL on marketplace's tables, and the fragment others compose into their statements.

* `rules_generation()`: a scalar subquery giving the rulebook generation (`marketplace_rules_generation`,
  a one-row table bumped by triggers on every rulebook table, see migration 0002), for a caller that
  reads it in the statement that locks what it will check (the market lock of an order, the trade lock
  of a settlement) and so needs no round trip of its own for it.
"""
from __future__ import annotations

from core.prepared import Sql

# not a model: created by migration 0002 (a sequence-fed one-row table)
GENERATION_TABLE = "marketplace_rules_generation"
GENERATION_READ = f"SELECT value FROM {GENERATION_TABLE} WHERE id = 1"


def rules_generation() -> Sql:
    """`(SELECT value FROM <generation table> WHERE id = 1)`, a scalar subquery for a select list."""
    return Sql(f"({GENERATION_READ})")



def bulk_session_closes_sql(source: str) -> str:
    """Session closes from `source`, a SELECT list giving market id, session key, open, high, low, close
    (the VWAP), volume, value, trades — for a history load (`trading.bulk`) that records the sessions the
    live order path would have closed as it went (`trading.orderbook.services._close_session`). A session
    already closed is kept as it is."""
    from .models import SessionClose

    return f"""INSERT INTO {SessionClose._meta.db_table} (market_id, session, open, high, low, close, volume,
                      value, trades, closed_at)
               SELECT c.*, now() FROM ({source}) c(market_id, session, open, high, low, close, volume, value,
                                                   trades)
                ORDER BY c.market_id, c.session
               ON CONFLICT (market_id, session) DO NOTHING"""
