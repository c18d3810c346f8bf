"""Guangdong's divisions on the Ting–Han River and the indicator catalog (compensation.reference)."""
from django.db import migrations

from compensation.reference import ensure_reference


def forwards(apps, schema_editor):
    ensure_reference(apps.get_model("accounts", "Region"), apps.get_model("accounts", "Basin"),
                     apps.get_model("compensation", "Indicator"))


class Migration(migrations.Migration):
    dependencies = [("compensation", "0001_initial"), ("accounts", "0002_regions_and_append_only_audit")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
