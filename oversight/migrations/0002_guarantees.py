"""Database guarantees of oversight.

* Approval decisions and alerts are append-only (the same triggers as the audit log and the ledger).
* The flow summary, kept by triggers on trading_trade, per (local day, right type, origin region,
  destination region):
    - a trade moving to settled (the settlement's UPDATE): a row trigger whose WHEN clause is false for
      every other update (so other updates pay nothing) appends one `oversight_flowdelta` row. Nothing
      is updated, so concurrent settlements never wait for each other on a summary row;
      `oversight.reports.flow_rollup` folds the deltas in later;
    - trades inserted already settled (loads of history, benchmarks): a statement trigger over the
      transition table. It returns at once when no inserted row is settled (every match); a statement
      of fewer than BULK rows appends one delta per group; a bulk statement upserts its groups straight
      into `oversight_flowsummary` and `oversight_flowtotal`, in key order (a consistent lock order),
      so a million trades never leave a million deltas to scan.
"""
from django.conf import settings
from django.db import migrations

from core.dbutil import append_only_sql

TZ = settings.TIME_ZONE
BULK = 1000

GROUPS = f"""
    SELECT (coalesce(n.settled_at, n.created_at) AT TIME ZONE '{TZ}')::date AS day,
           a.right_type_id AS right_type, coalesce(a.origin_region_id, '') AS origin_region,
           o.region_id AS dest_region, count(*) AS trades,
           sum(n.quantity * power(10::numeric, -a.scale)) AS quantity, sum(n.value) AS value
      FROM new_rows n
      JOIN ledger_asset a ON a.id = n.asset_id
      JOIN accounts_organization o ON o.id = n.buyer_id
      {{join}}
     WHERE n.status = 'settled' AND a.right_type_id IS NOT NULL {{where}}
     GROUP BY 1, 2, 3, 4"""


def body(join: str, where: str) -> str:
    """The statement-level trigger body over the transition table `new_rows`."""
    groups = GROUPS.format(join=join, where=where)
    return f"""
DECLARE
    n bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM new_rows WHERE status = 'settled') THEN
        RETURN NULL;  -- the common case (a match, a status change short of settled): nothing to record
    END IF;
    SELECT count(*) INTO n FROM new_rows;
    IF n < {BULK} THEN
        INSERT INTO oversight_flowdelta (day, right_type, origin_region, dest_region, trades, quantity, value)
        {groups};
    ELSE
        WITH g AS ({groups}),
             s AS (
                INSERT INTO oversight_flowsummary AS f
                       (day, right_type, origin_region, dest_region, trades, quantity, value)
                SELECT * FROM g ORDER BY 1, 2, 3, 4
                ON CONFLICT (day, right_type, origin_region, dest_region) DO UPDATE
                   SET trades = f.trades + EXCLUDED.trades, quantity = f.quantity + EXCLUDED.quantity,
                       value = f.value + EXCLUDED.value)
        INSERT INTO oversight_flowtotal AS t (right_type, origin_region, dest_region, trades, quantity, value)
        SELECT right_type, origin_region, dest_region, sum(trades), sum(quantity), sum(value)
          FROM g GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (right_type, origin_region, dest_region) DO UPDATE
           SET trades = t.trades + EXCLUDED.trades, quantity = t.quantity + EXCLUDED.quantity,
               value = t.value + EXCLUDED.value;
    END IF;
    RETURN NULL;
END"""


FLOW_FORWARD = f"""
CREATE OR REPLACE FUNCTION oversight_flow_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
{body("", "")}
$$;

CREATE OR REPLACE FUNCTION oversight_flow_settled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO oversight_flowdelta (day, right_type, origin_region, dest_region, trades, quantity, value)
    SELECT (coalesce(NEW.settled_at, NEW.created_at) AT TIME ZONE '{TZ}')::date, a.right_type_id,
           coalesce(a.origin_region_id, ''), o.region_id, 1, NEW.quantity * power(10::numeric, -a.scale), NEW.value
      FROM ledger_asset a, accounts_organization o
     WHERE a.id = NEW.asset_id AND o.id = NEW.buyer_id AND a.right_type_id IS NOT NULL;
    RETURN NULL;
END $$;

CREATE TRIGGER trading_trade_flow_inserted AFTER INSERT ON trading_trade
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION oversight_flow_inserted();
CREATE TRIGGER trading_trade_flow_settled AFTER UPDATE OF status ON trading_trade
    FOR EACH ROW WHEN (NEW.status = 'settled' AND OLD.status IS DISTINCT FROM 'settled')
    EXECUTE FUNCTION oversight_flow_settled();
"""

FLOW_REVERSE = """
DROP TRIGGER IF EXISTS trading_trade_flow_inserted ON trading_trade;
DROP TRIGGER IF EXISTS trading_trade_flow_settled ON trading_trade;
DROP FUNCTION IF EXISTS oversight_flow_inserted();
DROP FUNCTION IF EXISTS oversight_flow_settled();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("oversight", "0001_initial"),
        ("ledger", "0002_ledger_guarantees"),
        ("marketplace", "0002_rules_generation"),
    ]

    operations = [
        migrations.RunSQL(*append_only_sql("oversight_approvaldecision")),
        migrations.RunSQL(*append_only_sql("oversight_alert")),
        migrations.RunSQL(FLOW_FORWARD, FLOW_REVERSE),
    ]
