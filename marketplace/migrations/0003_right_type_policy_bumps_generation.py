"""Right-type policy is read by the rules (default right types of a kind, the permit default, notice
days; `marketplace.rules.facts`), so a change to `ledger_righttype` bumps the rulebook generation like
a change to the rulebook tables does (same function, same statement-level triggers): the compiled
rulebook never serves a policy that is not the committed one."""
from django.db import migrations

TABLE = "ledger_righttype"

FORWARD = f"""
CREATE TRIGGER {TABLE}_bump AFTER INSERT OR UPDATE OR DELETE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION marketplace_rules_bump();
CREATE TRIGGER {TABLE}_bump_truncate AFTER TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION marketplace_rules_bump();
"""

REVERSE = f"""
DROP TRIGGER IF EXISTS {TABLE}_bump ON {TABLE};
DROP TRIGGER IF EXISTS {TABLE}_bump_truncate ON {TABLE};
"""


class Migration(migrations.Migration):

    dependencies = [
        ('marketplace', '0002_rules_generation'),
        ('ledger', '0008_right_type_policy'),
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
