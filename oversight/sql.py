"""The hand-written SQL of oversight: its own tables (the flow summary) and the reports and surveillance
reads over other apps' tables, named through their models (`_meta`) or their `sql` modules, never
spelled. Aggregates over many rows: the ORM would build the same statements less readably.

Report statements take their WHERE clause (built by the caller from the filters, with `%s`
placeholders) and positional parameters; the surveillance statements are fixed.
"""
from __future__ import annotations

from accounts.models import Organization, Region
from ledger.sql import ACCOUNT, ASSET, POSTING
from trading.models import Trade

from .models import FlowDelta, FlowMonthly, FlowSummary, FlowTotal

TRADE = Trade._meta.db_table
ORGANIZATION, REGION = Organization._meta.db_table, Region._meta.db_table
FLOW_DELTA, FLOW_SUMMARY, FLOW_TOTAL = FlowDelta._meta.db_table, FlowSummary._meta.db_table, FlowTotal._meta.db_table
FLOW_MONTHLY = FlowMonthly._meta.db_table


# --- reports -------------------------------------------------------------------------------------------

def flow_source(where: str, *, all_time: bool) -> str:
    """Rows (right_type, origin_region, dest_region, trades, quantity, value, day) of settled trades:
    the daily summary ∪ the deltas, or (`all_time`, day NULL for the totals) the totals ∪ the deltas;
    `where` applies to both halves (so the caller passes its parameters twice)."""
    columns = "right_type, origin_region, dest_region, trades, quantity, value"
    if all_time:
        return f"""SELECT {columns}, NULL::date AS day FROM {FLOW_TOTAL} WHERE {where}
                   UNION ALL
                   SELECT {columns}, day FROM {FLOW_DELTA} WHERE {where}"""
    return f"""SELECT {columns}, day FROM {FLOW_SUMMARY} WHERE {where}
               UNION ALL
               SELECT {columns}, day FROM {FLOW_DELTA} WHERE {where}"""


def flow_source_by_month(where: str, months: str, days: str, whole: str) -> str:
    """Rows as `flow_source` (day = the month's first day for whole months): the monthly roll-up for the
    whole months (`months`, a condition on `month`), the daily summary for the days of the range (`days`)
    outside them (`whole`, the same months as a condition on `day`), and the deltas for the range.
    Parameters: where's + months', where's + days' + whole's, where's + days'."""
    columns = "right_type, origin_region, dest_region, trades, quantity, value"
    return f"""SELECT {columns}, month AS day FROM {FLOW_MONTHLY} WHERE {where} AND {months}
               UNION ALL
               SELECT {columns}, day FROM {FLOW_SUMMARY} WHERE {where} AND {days} AND NOT ({whole})
               UNION ALL
               SELECT {columns}, day FROM {FLOW_DELTA} WHERE {where} AND {days}"""


# Fold the flow deltas into the daily summary and the totals, in one statement.
FLOW_ROLLUP = f"""
            WITH moved AS (DELETE FROM {FLOW_DELTA} RETURNING day, right_type, origin_region, dest_region,
                                                                       trades, quantity, value),
                 grouped AS (SELECT day, right_type, origin_region, dest_region, sum(trades) AS trades,
                                    sum(quantity) AS quantity, sum(value) AS value, count(*) AS n
                               FROM moved GROUP BY 1, 2, 3, 4),
                 daily AS (
                    INSERT INTO {FLOW_SUMMARY} AS f
                           (day, right_type, origin_region, dest_region, trades, quantity, value)
                    SELECT day, right_type, origin_region, dest_region, trades, quantity, value FROM grouped
                     ORDER BY 1, 2, 3, 4
                    ON CONFLICT (day, right_type, origin_region, dest_region) DO UPDATE
                       SET trades = f.trades + EXCLUDED.trades, quantity = f.quantity + EXCLUDED.quantity,
                           value = f.value + EXCLUDED.value
                    RETURNING 1),
                 totals AS (
                    INSERT INTO {FLOW_TOTAL} AS t (right_type, origin_region, dest_region, trades, quantity,
                                                          value)
                    SELECT right_type, origin_region, dest_region, sum(trades), sum(quantity), sum(value)
                      FROM grouped GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                    ON CONFLICT (right_type, origin_region, dest_region) DO UPDATE
                       SET trades = t.trades + EXCLUDED.trades, quantity = t.quantity + EXCLUDED.quantity,
                           value = t.value + EXCLUDED.value
                    RETURNING 1)
            SELECT coalesce((SELECT sum(n) FROM grouped), 0), (SELECT count(*) FROM daily),
                   (SELECT count(*) FROM totals)"""


def farmland_proceeds(where: str) -> str:
    """Per county: its government bodies' earmarked CNY accounts, their balance and what they received."""
    return f"""SELECT o.region_id, r.name_zh, r.name_en, count(*), sum(a.available + a.held),
                     coalesce(sum((SELECT sum(p.amount) FROM {POSTING} p
                                    WHERE p.account_id = a.id AND p.amount > 0 AND p.bucket = 'A')), 0),
                     coalesce(sum((SELECT count(*) FROM {POSTING} p
                                    WHERE p.account_id = a.id AND p.amount > 0 AND p.bucket = 'A')), 0)
                FROM {ACCOUNT} a
                JOIN {ASSET} s ON s.id = a.asset_id
                JOIN {ORGANIZATION} o ON o.id = a.organization_id
                JOIN {REGION} r ON r.code = o.region_id
               WHERE {where}
               GROUP BY 1, 2, 3 ORDER BY 1"""


def holder_concentration(where: str) -> str:
    """Per instrument: participants' holdings ranked, with total, holders and the sum of squared shares;
    the last parameter is how many ranks to keep."""
    return f"""WITH h AS (
                SELECT s.id AS asset_id, s.code, s.scale, a.organization_id, a.available + a.held AS holding
                  FROM {ACCOUNT} a JOIN {ASSET} s ON s.id = a.asset_id
                 WHERE {where} AND a.available + a.held > 0),
              ranked AS (
                SELECT h.*, sum(holding) OVER w AS total,
                       row_number() OVER (PARTITION BY asset_id ORDER BY holding DESC, organization_id) AS rank,
                       count(*) OVER w AS holders,
                       sum(power(holding::numeric * 100, 2)) OVER w AS sq
                  FROM h WINDOW w AS (PARTITION BY asset_id))
              SELECT r.asset_id, r.code, r.scale, r.organization_id, o.name_zh, o.kind, r.holding, r.total, r.rank,
                     r.holders, r.sq / power(r.total::numeric, 2)
                FROM ranked r JOIN {ORGANIZATION} o ON o.id = r.organization_id
               WHERE r.rank <= %s ORDER BY r.asset_id, r.rank"""


# --- surveillance ----------------------------------------------------------------------------------------

# participants (not government bodies) holding more than a percentage of an instrument
LARGE_HOLDERS = f"""
            WITH h AS (SELECT a.asset_id, a.organization_id, a.available + a.held AS holding,
                              sum(a.available + a.held) OVER (PARTITION BY a.asset_id) AS total,
                              count(*) OVER (PARTITION BY a.asset_id) AS holders
                         FROM {ACCOUNT} a JOIN {ASSET} s ON s.id = a.asset_id
                        WHERE a.kind = 'participant' AND s.kind = 'right' AND a.available + a.held > 0)
            SELECT h.asset_id, s.code, s.scale, s.origin_region_id, h.organization_id, o.kind, o.region_id,
                   h.holding, h.total, h.holders
              FROM h JOIN {ORGANIZATION} o ON o.id = h.organization_id
                     JOIN {ASSET} s ON s.id = h.asset_id
             WHERE o.kind NOT IN %s AND h.holding * 100 > %s * h.total
             ORDER BY h.asset_id, h.organization_id"""
