"""The flow summary by calendar month (`FlowMonthly`), kept by a row trigger on `oversight_flowsummary`:
every insert or update of a daily summary row (the bulk trigger on the trade table, `flow_rollup`) adds
its change to its month's row, in the same statement. Existing summary rows are folded in once here."""

from django.db import migrations, models

FORWARD = """
CREATE OR REPLACE FUNCTION oversight_flow_monthly() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d_trades bigint := NEW.trades;
    d_quantity numeric := NEW.quantity;
    d_value bigint := NEW.value;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        d_trades := NEW.trades - OLD.trades;
        d_quantity := NEW.quantity - OLD.quantity;
        d_value := NEW.value - OLD.value;
    END IF;
    INSERT INTO oversight_flowmonthly AS m (month, right_type, origin_region, dest_region, trades, quantity, value)
    VALUES (date_trunc('month', NEW.day)::date, NEW.right_type, NEW.origin_region, NEW.dest_region,
            d_trades, d_quantity, d_value)
    ON CONFLICT (month, right_type, origin_region, dest_region) DO UPDATE
       SET trades = m.trades + EXCLUDED.trades, quantity = m.quantity + EXCLUDED.quantity,
           value = m.value + EXCLUDED.value;
    RETURN NULL;
END $$;
CREATE TRIGGER oversight_flowsummary_monthly AFTER INSERT OR UPDATE ON oversight_flowsummary
    FOR EACH ROW EXECUTE FUNCTION oversight_flow_monthly();
INSERT INTO oversight_flowmonthly (month, right_type, origin_region, dest_region, trades, quantity, value)
SELECT date_trunc('month', day)::date, right_type, origin_region, dest_region, sum(trades), sum(quantity), sum(value)
  FROM oversight_flowsummary GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;
"""

REVERSE = """
DROP TRIGGER IF EXISTS oversight_flowsummary_monthly ON oversight_flowsummary;
DROP FUNCTION IF EXISTS oversight_flow_monthly();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("oversight", "0005_api16_verbose_names"),
    ]

    operations = [
        migrations.CreateModel(
            name="FlowMonthly",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("month", models.DateField()),
                ("right_type", models.CharField(max_length=30)),
                ("origin_region", models.CharField(max_length=6)),
                ("dest_region", models.CharField(max_length=6)),
                ("trades", models.BigIntegerField(default=0)),
                ("quantity", models.DecimalField(decimal_places=6, help_text="whole units", max_digits=38)),
                ("value", models.BigIntegerField(default=0, help_text="fen")),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("month", "right_type", "origin_region", "dest_region"),
                                                        name="flow_monthly_key")],
            },
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
