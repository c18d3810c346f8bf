"""Per-right-type policy as fields on `RightType` (what the code used to switch on right-type codes for:
basin binding, public-notice days, pollutant subtypes, the discharge-permit default, earmarked proceeds,
issuance evidence, listing provenance), and a data migration that fills them for the reference right
types from `ledger.reference.RIGHT_TYPES`, so behaviour is unchanged."""

from django.db import migrations, models


def fill_policy(apps, schema_editor):
    from ledger.reference import right_type_policy

    RightType = apps.get_model("ledger", "RightType")
    names = {f.name for f in RightType._meta.get_fields()}
    for right_type in RightType.objects.all():
        policy = right_type_policy(right_type.code, names)
        if policy:
            RightType.objects.filter(pk=right_type.pk).update(**policy)


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0007_balances_applied_per_statement'),
    ]

    operations = [
        migrations.AddField(
            model_name='righttype', name='notice_period_days',
            field=models.PositiveSmallIntegerField(
                blank=True, null=True,
                help_text='public-notice days before settlement when the rulebook has a notice rule'),
        ),
        migrations.AddField(
            model_name='righttype', name='pollutant_subtypes',
            field=models.BooleanField(default=False, help_text='the subtype names a pollutant (emission)'),
        ),
        migrations.AddField(
            model_name='righttype', name='permit_required',
            field=models.BooleanField(default=False, help_text='buyers need a discharge permit by default'),
        ),
        migrations.AddField(
            model_name='righttype', name='earmark_purpose',
            field=models.CharField(
                blank=True, max_length=40,
                help_text="government sellers' proceeds go to their earmarked fund for this purpose (blank: free cash)"),
        ),
        migrations.AddField(
            model_name='righttype', name='issuance_evidence',
            field=models.JSONField(blank=True, default=list, help_text='evidence fields an issuance must carry'),
        ),
        migrations.AddField(
            model_name='righttype', name='listing_provenance',
            field=models.JSONField(blank=True, default=dict,
                                   help_text='provenance a listing must carry: field → what it is'),
        ),
        migrations.RunPython(fill_policy, migrations.RunPython.noop),
    ]
