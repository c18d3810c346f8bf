"""One earmarked fund per purpose (issue #17): the account kinds `earmarked_basin` (basin eco-compensation)
and `earmarked_assistance` (paired assistance) beside `earmarked`, which keeps its value and becomes the
farmland-protection fund. The accounts that exist are therefore the farmland fund as they are: a deployment
whose earmarked accounts hold only farmland-quota proceeds moves nothing (the demo is reseeded; a database
where compensation or assistance receipts already sit in `earmarked` would need reclassifying transfers,
posted through the ledger, before use). CHECKs: only listed kinds; earmarked accounts are never sharded."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0007_api16_verbose_names'),
        ('ledger', '0012_api16_verbose_names'),
    ]

    operations = [
        migrations.AlterField(
            model_name='account',
            name='kind',
            field=models.CharField(choices=[('participant', 'Participant'), ('earmarked', 'Earmarked fund: farmland protection'), ('earmarked_basin', 'Earmarked fund: basin eco-compensation'), ('earmarked_assistance', 'Earmarked fund: paired assistance'), ('fee_income', 'Fee income'), ('retirement', 'Retirement'), ('expiry', 'Expiry'), ('issuance', 'Issuance')], max_length=20),
        ),
        migrations.AddConstraint(
            model_name='account',
            constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['participant', 'earmarked', 'earmarked_basin', 'earmarked_assistance', 'fee_income', 'retirement', 'expiry', 'issuance'])), name='account_kind_known'),
        ),
        migrations.AddConstraint(
            model_name='account',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind__in', ['earmarked', 'earmarked_basin', 'earmarked_assistance']), _negated=True), ('shard', 0), _connector='OR'), name='earmarked_unsharded'),
        ),
    ]
