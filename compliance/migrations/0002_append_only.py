"""Verified emissions, allocations and surrenders are append-only (a correction is a new version)."""
from django.db import migrations

from core.dbutil import append_only_sql


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]

    operations = [
        migrations.RunSQL(*append_only_sql("compliance_verifiedemission")),
        migrations.RunSQL(*append_only_sql("compliance_allocation")),
        migrations.RunSQL(*append_only_sql("compliance_surrender")),
    ]
