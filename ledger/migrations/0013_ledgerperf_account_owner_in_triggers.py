"""The `account_owner` rule moves from a CHECK constraint into the account triggers (#19, ledger speed).

PostgreSQL evaluates every CHECK constraint of a row on every UPDATE of it, whichever columns change,
and prepares each constraint's expression anew for every statement: on the balance updates of a posting
(one UPDATE per account) this rule — about the owner, which a balance update never changes — cost ~8% of
a two-leg posting's server instructions (valgrind callgrind, 2026-12-06). The rule itself is unchanged and
still enforced by the database: the BEFORE INSERT trigger checks it for a new account, and the BEFORE
UPDATE trigger whenever kind or organization change, raising the same error (SQLSTATE 23514
check_violation, constraint name `account_owner`) as the CHECK did.
"""
from django.db import migrations

OWNER_RULE = "(NEW.kind = 'issuance' OR NEW.organization_id IS NOT NULL OR NEW.kind IN ('retirement', 'expiry'))"
OWNER_ERROR = """RAISE EXCEPTION 'new row for relation "ledger_account" violates check constraint "account_owner"'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'account_owner', TABLE = 'ledger_account';"""

FORWARD = f"""
CREATE OR REPLACE FUNCTION ledger_guard_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 AND (NEW.available IS DISTINCT FROM OLD.available
                                   OR NEW.held IS DISTINCT FROM OLD.held
                                   OR NEW.asset_id IS DISTINCT FROM OLD.asset_id) THEN
        RAISE EXCEPTION 'ledger balances change only through postings' USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.kind IS DISTINCT FROM OLD.kind OR NEW.organization_id IS DISTINCT FROM OLD.organization_id)
       AND NOT coalesce({OWNER_RULE}, false) THEN
        {OWNER_ERROR}
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION ledger_guard_new_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.available <> 0 OR NEW.held <> 0 THEN
        RAISE EXCEPTION 'accounts open with zero balances' USING ERRCODE = 'restrict_violation';
    END IF;
    IF NOT coalesce({OWNER_RULE}, false) THEN
        {OWNER_ERROR}
    END IF;
    RETURN NEW;
END $$;
"""

REVERSE = """
CREATE OR REPLACE FUNCTION ledger_guard_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 AND (NEW.available IS DISTINCT FROM OLD.available
                                   OR NEW.held IS DISTINCT FROM OLD.held
                                   OR NEW.asset_id IS DISTINCT FROM OLD.asset_id) THEN
        RAISE EXCEPTION 'ledger balances change only through postings' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION ledger_guard_new_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.available <> 0 OR NEW.held <> 0 THEN
        RAISE EXCEPTION 'accounts open with zero balances' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0012_api16_verbose_names'),
    ]

    operations = [
        migrations.RunSQL(FORWARD, REVERSE),
        migrations.RemoveConstraint(model_name='account', name='account_owner'),
    ]
