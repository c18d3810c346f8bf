"""Postings: the account/asset foreign keys and their single-column indexes go (the balance trigger
checks more), and the planner is told that a transaction has a handful of postings (n_distinct = -0.2,
about five per transaction) so that the deferred zero-sum check always looks its transaction up by
index, even in a fresh database whose statistics do not yet say so (a cached generic plan made then
scanned the table: ~1 ms per posting at commit)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0003_fee_income_shards'),
    ]

    operations = [
        migrations.AlterField(
            model_name='posting',
            name='account',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='postings', to='ledger.account'),
        ),
        migrations.AlterField(
            model_name='posting',
            name='asset',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, to='ledger.asset'),
        ),
        migrations.RunSQL("ALTER TABLE ledger_posting ALTER COLUMN transaction_id SET (n_distinct = -0.2)",
                          "ALTER TABLE ledger_posting ALTER COLUMN transaction_id RESET (n_distinct)"),
    ]
