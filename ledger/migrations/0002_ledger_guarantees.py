"""Database guarantees of the ledger (see ledger.models): zero-sum per transaction and asset checked at
commit, append-only tables, balances materialized from postings only, and the right-type code table."""
from django.db import migrations

from core.dbutil import append_only_sql

GUARANTEES = """
-- Zero sum per (transaction, asset), checked at commit so a transaction may insert its postings in any order.
CREATE OR REPLACE FUNCTION ledger_check_zero_sum() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE bad record;
BEGIN
    SELECT asset_id, sum(amount) AS total INTO bad FROM ledger_posting
     WHERE transaction_id = NEW.transaction_id GROUP BY asset_id HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not balance for asset % (sum %)',
            NEW.transaction_id, bad.asset_id, bad.total USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_posting_zero_sum AFTER INSERT ON ledger_posting
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_zero_sum();

-- A journal entry without postings is meaningless: refuse it at commit.
CREATE OR REPLACE FUNCTION ledger_check_has_postings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ledger_posting WHERE transaction_id = NEW.id) THEN
        RAISE EXCEPTION 'ledger transaction % has no postings', NEW.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_transaction_has_postings AFTER INSERT ON ledger_ledgertransaction
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_has_postings();

-- Balances follow postings, and only postings.
CREATE OR REPLACE FUNCTION ledger_apply_posting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.bucket = 'A' THEN
        UPDATE ledger_account SET available = available + NEW.amount
         WHERE id = NEW.account_id AND asset_id = NEW.asset_id;
    ELSIF NEW.bucket = 'H' THEN
        UPDATE ledger_account SET held = held + NEW.amount
         WHERE id = NEW.account_id AND asset_id = NEW.asset_id;
    ELSE
        RAISE EXCEPTION 'unknown bucket %', NEW.bucket USING ERRCODE = 'check_violation';
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'posting asset % does not match account %', NEW.asset_id, NEW.account_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_posting_apply AFTER INSERT ON ledger_posting
    FOR EACH ROW EXECUTE FUNCTION ledger_apply_posting();

CREATE OR REPLACE FUNCTION ledger_guard_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 AND (NEW.available IS DISTINCT FROM OLD.available
                                   OR NEW.held IS DISTINCT FROM OLD.held
                                   OR NEW.asset_id IS DISTINCT FROM OLD.asset_id) THEN
        RAISE EXCEPTION 'ledger balances change only through postings' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_account_guard BEFORE UPDATE ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_guard_balance();

CREATE OR REPLACE FUNCTION ledger_guard_new_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.available <> 0 OR NEW.held <> 0 THEN
        RAISE EXCEPTION 'accounts open with zero balances' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_account_opens_empty BEFORE INSERT ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_guard_new_account();
CREATE TRIGGER ledger_account_no_delete BEFORE DELETE ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION refuse_modification();
"""

REVERSE = """
DROP TRIGGER IF EXISTS ledger_posting_zero_sum ON ledger_posting;
DROP TRIGGER IF EXISTS ledger_transaction_has_postings ON ledger_ledgertransaction;
DROP TRIGGER IF EXISTS ledger_posting_apply ON ledger_posting;
DROP TRIGGER IF EXISTS ledger_account_guard ON ledger_account;
DROP TRIGGER IF EXISTS ledger_account_opens_empty ON ledger_account;
DROP TRIGGER IF EXISTS ledger_account_no_delete ON ledger_account;
"""

def load_reference_data(apps, schema_editor):
    from ledger.reference import ensure_reference_data

    ensure_reference_data(apps.get_model("ledger", "RightType"), apps.get_model("ledger", "Asset"))


def _append_only(*tables):
    ops = []
    for t in tables:
        fwd, rev = append_only_sql(t)
        ops.append(migrations.RunSQL(fwd, rev))
    return ops


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial"), ("accounts", "0002_regions_and_append_only_audit")]

    operations = [
        *_append_only("ledger_ledgertransaction", "ledger_posting", "ledger_merkleleaf", "ledger_merklenode",
                      "ledger_checkpoint"),
        migrations.RunSQL(GUARANTEES, REVERSE),
        migrations.RunPython(load_reference_data, migrations.RunPython.noop),
    ]
