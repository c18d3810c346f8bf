"""Checkpoints signed with Ed25519 (ledger.keys): each checkpoint names its key; public keys are stored.
Checkpoints written before this migration were HMAC-signed: they get key id "legacy-hmac" (README)."""
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("ledger", "0008_right_type_policy")]

    operations = [
        # ADD COLUMN with a default: existing rows take it without an UPDATE (the table is append-only)
        migrations.AddField(model_name="checkpoint", name="key_id",
                            field=models.CharField(default="legacy-hmac", max_length=32), preserve_default=False),
        migrations.CreateModel(
            name="SigningKey",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key_id", models.CharField(max_length=32, unique=True)),
                ("algorithm", models.CharField(default="ed25519", max_length=16)),
                ("public_key", models.BinaryField()),
                ("valid_from", models.DateTimeField()),
                ("valid_until", models.DateTimeField(blank=True, null=True)),
            ],
            options={"ordering": ["valid_from"]},
        ),
    ]
