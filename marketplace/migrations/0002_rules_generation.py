"""The rulebook's generation number (the cache key of `marketplace.rules.compiled`) and immutable
rulebook versions.

`marketplace_rules_generation` holds one row. Statement-level triggers on the rulebook tables set it to
a fresh value from a sequence in the same transaction as the change (INSERT, UPDATE, DELETE, TRUNCATE),
so a reader sees a new value exactly when it can see the change, a rolled-back change leaves the old
value, and a value is never reused. Rulebook versions and their rules are append-only: a change to the
rules is a new version (orders and trades keep pointing at the version they were checked against).
"""
from django.db import migrations

from core.dbutil import append_only_sql

WATCHED = ["marketplace_rulebookversion", "marketplace_rule", "marketplace_nonattainmentflag",
           "marketplace_dischargepermit"]

FORWARD = """
CREATE SEQUENCE IF NOT EXISTS marketplace_rules_generation_seq;
CREATE TABLE IF NOT EXISTS marketplace_rules_generation (
    id smallint PRIMARY KEY CHECK (id = 1),
    value bigint NOT NULL
);
INSERT INTO marketplace_rules_generation (id, value) VALUES (1, nextval('marketplace_rules_generation_seq'))
    ON CONFLICT (id) DO NOTHING;
CREATE OR REPLACE FUNCTION marketplace_rules_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO marketplace_rules_generation (id, value) VALUES (1, nextval('marketplace_rules_generation_seq'))
        ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value;
    RETURN NULL;
END $$;
""" + "".join(f"""
CREATE TRIGGER {t}_bump AFTER INSERT OR UPDATE OR DELETE ON {t}
    FOR EACH STATEMENT EXECUTE FUNCTION marketplace_rules_bump();
CREATE TRIGGER {t}_bump_truncate AFTER TRUNCATE ON {t}
    FOR EACH STATEMENT EXECUTE FUNCTION marketplace_rules_bump();
""" for t in WATCHED)

REVERSE = "".join(f"""
DROP TRIGGER IF EXISTS {t}_bump ON {t};
DROP TRIGGER IF EXISTS {t}_bump_truncate ON {t};
""" for t in WATCHED) + """
DROP FUNCTION IF EXISTS marketplace_rules_bump();
DROP TABLE IF EXISTS marketplace_rules_generation;
DROP SEQUENCE IF EXISTS marketplace_rules_generation_seq;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('marketplace', '0001_initial'),
    ]

    operations = [
        migrations.RunSQL(FORWARD, REVERSE),
        migrations.RunSQL(*append_only_sql("marketplace_rulebookversion")),
        migrations.RunSQL(*append_only_sql("marketplace_rule")),
    ]
