from django.db import migrations

from core.dbutil import append_only_sql


def load(apps, schema_editor):
    from accounts.regions import load_regions

    load_regions(apps.get_model("accounts", "Region"), apps.get_model("accounts", "Basin"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.RunSQL(*append_only_sql("accounts_auditevent")),
        migrations.RunPython(load, migrations.RunPython.noop),
    ]
