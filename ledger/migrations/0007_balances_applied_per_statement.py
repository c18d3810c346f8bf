"""Balances applied once per statement and account instead of once per posting.

Before: a row trigger per posting looked its journal row up and updated its account (a settlement's
seven postings: seven trigger calls, seven lookups, seven account updates). Now: one statement-level
trigger over the inserted postings (a transition table) checks every journal row they name once, then
updates each account once with the net of its postings per bucket, in account id order, the fixed lock
order of every ledger writer.

The guarantees are the ones 0005 gave, checked the same way:
  * a posting to an unknown journal row, or to one written by another database transaction (a
    committed one included), is refused;
  * an unknown bucket, an unknown account, or an account whose asset is not the posting's, is refused;
  * the CHECK constraints on the account see the net change of the statement: a participant bucket
    must not be negative once the statement's postings are applied (the balance a reader can see).
"""

from django.db import migrations

FORWARD = """
DROP TRIGGER IF EXISTS ledger_posting_apply ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_apply_posting();

CREATE OR REPLACE FUNCTION ledger_apply_postings() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
    acc record;
BEGIN
    SELECT p.transaction_id, t.xid INTO bad
      FROM (SELECT DISTINCT transaction_id FROM new_postings) p
      LEFT JOIN ledger_ledgertransaction t ON t.id = p.transaction_id
     WHERE t.id IS NULL OR t.xid <> pg_current_xact_id()::text::bigint
     LIMIT 1;
    IF FOUND THEN
        IF bad.xid IS NULL THEN
            RAISE EXCEPTION 'posting to unknown ledger transaction %', bad.transaction_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RAISE EXCEPTION 'ledger transaction % is closed: postings join only the database transaction that wrote it',
            bad.transaction_id USING ERRCODE = 'check_violation';
    END IF;
    SELECT bucket INTO bad FROM new_postings WHERE bucket NOT IN ('A', 'H') LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown bucket %', bad.bucket USING ERRCODE = 'check_violation';
    END IF;
    FOR acc IN SELECT account_id, asset_id,
                      coalesce(sum(amount) FILTER (WHERE bucket = 'A'), 0) AS available,
                      coalesce(sum(amount) FILTER (WHERE bucket = 'H'), 0) AS held
                 FROM new_postings GROUP BY account_id, asset_id ORDER BY account_id, asset_id LOOP
        UPDATE ledger_account SET available = available + acc.available, held = held + acc.held
         WHERE id = acc.account_id AND asset_id = acc.asset_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'posting asset % does not match account %', acc.asset_id, acc.account_id
                USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_postings_apply AFTER INSERT ON ledger_posting
    REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT EXECUTE FUNCTION ledger_apply_postings();
"""

REVERSE = """
DROP TRIGGER IF EXISTS ledger_postings_apply ON ledger_posting;
DROP FUNCTION IF EXISTS ledger_apply_postings();
CREATE OR REPLACE FUNCTION ledger_apply_posting() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    writer bigint;
BEGIN
    SELECT xid INTO writer FROM ledger_ledgertransaction WHERE id = NEW.transaction_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'posting to unknown ledger transaction %', NEW.transaction_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF writer <> pg_current_xact_id()::text::bigint THEN
        RAISE EXCEPTION 'ledger transaction % is closed: postings join only the database transaction that wrote it',
            NEW.transaction_id USING ERRCODE = 'check_violation';
    END IF;
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
"""


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0006_leaner_indexes'),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
