"""Zero-sum checked once per ledger transaction instead of once per posting.

Before: a deferred constraint trigger per posting re-summed the whole transaction (n postings → n
checks at commit), plus a deferred FK check per posting and a has-postings check per transaction.
Now: one deferred constraint trigger on the journal row checks, at commit, that the transaction has
postings and that they sum to zero per asset; the balance trigger, which runs for every posting anyway,
refuses a posting whose journal row does not exist or was written by another database transaction
(`xid`), so no posting can join a transaction after its commit, and the per-posting checks go.
"""

import django.db.models.deletion
from django.db import migrations, models


FORWARD = """
DROP TRIGGER IF EXISTS ledger_posting_zero_sum ON ledger_posting;
DROP TRIGGER IF EXISTS ledger_transaction_has_postings ON ledger_ledgertransaction;
DROP FUNCTION IF EXISTS ledger_check_zero_sum();
DROP FUNCTION IF EXISTS ledger_check_has_postings();

CREATE OR REPLACE FUNCTION ledger_check_transaction() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    leg record;
    postings int := 0;
BEGIN
    FOR leg IN SELECT asset_id, sum(amount) AS total, count(*) AS n FROM ledger_posting
                WHERE transaction_id = NEW.id GROUP BY asset_id LOOP
        IF leg.total <> 0 THEN
            RAISE EXCEPTION 'ledger transaction % does not balance for asset % (sum %)',
                NEW.id, leg.asset_id, leg.total USING ERRCODE = 'check_violation';
        END IF;
        postings := postings + leg.n;
    END LOOP;
    IF postings = 0 THEN
        RAISE EXCEPTION 'ledger transaction % has no postings', NEW.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_transaction_balanced AFTER INSERT ON ledger_ledgertransaction
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_transaction();

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
"""

REVERSE = """
DROP TRIGGER IF EXISTS ledger_transaction_balanced ON ledger_ledgertransaction;
DROP FUNCTION IF EXISTS ledger_check_transaction();
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
CREATE OR REPLACE FUNCTION ledger_check_has_postings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ledger_posting WHERE transaction_id = NEW.id) THEN
        RAISE EXCEPTION 'ledger transaction % has no postings', NEW.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_transaction_has_postings AFTER INSERT ON ledger_ledgertransaction
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_has_postings();
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
"""


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0004_posting_checks_in_balance_trigger'),
    ]

    operations = [
        migrations.RunSQL(FORWARD, REVERSE),
        migrations.AlterField(
            model_name='posting',
            name='transaction',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='postings', to='ledger.ledgertransaction'),
        ),
    ]
