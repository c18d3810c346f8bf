"""One earmarked fund per purpose (issue #17): the account kinds `earmarked_basin` (basin eco-compensation)
and `earmarked_assistance` (paired assistance) beside `earmarked`, which keeps its value and becomes the
farmland-protection fund. The accounts that exist are therefore the farmland fund as they are: a deployment
whose earmarked accounts hold only farmland-quota proceeds moves nothing (the demo is reseeded; a database
where compensation or assistance receipts already sit in `earmarked` would need reclassifying transfers,
posted through the ledger, before use).

Two rules, enforced by the account triggers beside `account_owner` (0013: PostgreSQL re-checks every CHECK
of a row on every balance UPDATE, where rules about kind and shard can never fail), on insert and on any
change of kind, organization or shard, with SQLSTATE 23514 (check_violation) and their constraint names:
  account_kind_known    the kind is one of the listed kinds
  earmarked_unsharded   an earmarked fund's account is never sharded (shard 0)
"""
from django.db import migrations, models

KINDS = ("participant", "earmarked", "earmarked_basin", "earmarked_assistance", "fee_income", "retirement",
         "expiry", "issuance")
FUND_KINDS = ("earmarked", "earmarked_basin", "earmarked_assistance")


def _in(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


OWNER_RULE = "(NEW.kind = 'issuance' OR NEW.organization_id IS NOT NULL OR NEW.kind IN ('retirement', 'expiry'))"
KIND_RULE = f"(NEW.kind IN {_in(KINDS)})"
SHARD_RULE = f"(NEW.kind NOT IN {_in(FUND_KINDS)} OR NEW.shard = 0)"


def _error(name: str) -> str:
    return f"""RAISE EXCEPTION 'new row for relation "ledger_account" violates check constraint "{name}"'
            USING ERRCODE = 'check_violation', CONSTRAINT = '{name}', TABLE = 'ledger_account';"""


RULES = f"""
    IF NOT coalesce({OWNER_RULE}, false) THEN
        {_error("account_owner")}
    END IF;
    IF NOT coalesce({KIND_RULE}, false) THEN
        {_error("account_kind_known")}
    END IF;
    IF NOT coalesce({SHARD_RULE}, false) THEN
        {_error("earmarked_unsharded")}
    END IF;"""

FORWARD = f"""
CREATE OR REPLACE FUNCTION ledger_guard_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 AND (NEW.available IS DISTINCT FROM OLD.available
                                   OR NEW.held IS DISTINCT FROM OLD.held
                                   OR NEW.asset_id IS DISTINCT FROM OLD.asset_id) THEN
        RAISE EXCEPTION 'ledger balances change only through postings' USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.kind IS DISTINCT FROM OLD.kind OR NEW.organization_id IS DISTINCT FROM OLD.organization_id
       OR NEW.shard IS DISTINCT FROM OLD.shard THEN{RULES}
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION ledger_guard_new_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.available <> 0 OR NEW.held <> 0 THEN
        RAISE EXCEPTION 'accounts open with zero balances' USING ERRCODE = 'restrict_violation';
    END IF;{RULES}
    RETURN NEW;
END $$;
"""

# back to 0013's functions (the owner rule only)
REVERSE = f"""
CREATE OR REPLACE FUNCTION ledger_guard_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 AND (NEW.available IS DISTINCT FROM OLD.available
                                   OR NEW.held IS DISTINCT FROM OLD.held
                                   OR NEW.asset_id IS DISTINCT FROM OLD.asset_id) THEN
        RAISE EXCEPTION 'ledger balances change only through postings' USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.kind IS DISTINCT FROM OLD.kind OR NEW.organization_id IS DISTINCT FROM OLD.organization_id)
       AND NOT coalesce({OWNER_RULE}, false) THEN
        {_error("account_owner")}
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION ledger_guard_new_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.available <> 0 OR NEW.held <> 0 THEN
        RAISE EXCEPTION 'accounts open with zero balances' USING ERRCODE = 'restrict_violation';
    END IF;
    IF NOT coalesce({OWNER_RULE}, false) THEN
        {_error("account_owner")}
    END IF;
    RETURN NEW;
END $$;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0007_api16_verbose_names'),
        ('ledger', '0013_ledgerperf_account_owner_in_triggers'),
    ]

    operations = [
        migrations.AlterField(
            model_name='account',
            name='kind',
            field=models.CharField(choices=[('participant', 'Participant'), ('earmarked', 'Earmarked fund: farmland protection'), ('earmarked_basin', 'Earmarked fund: basin eco-compensation'), ('earmarked_assistance', 'Earmarked fund: paired assistance'), ('fee_income', 'Fee income'), ('retirement', 'Retirement'), ('expiry', 'Expiry'), ('issuance', 'Issuance')], max_length=20),
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
