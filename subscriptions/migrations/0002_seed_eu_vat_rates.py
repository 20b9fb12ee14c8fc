"""Seed the EU member states' standard VAT rates (percent), as in force in 2026.

Staff keep them current in the admin; this migration only fills an empty
table and never overwrites a rate someone has edited.
"""

from decimal import Decimal

from django.db import migrations

from subscriptions.eu_vat_rates import EU_STANDARD_VAT_RATES  # plain data, safe to import


def seed_rates(apps, schema_editor):
    TaxRate = apps.get_model("subscriptions", "TaxRate")
    for country, rate in EU_STANDARD_VAT_RATES.items():
        TaxRate.objects.get_or_create(country=country, defaults={"rate": Decimal(rate)})


def unseed_rates(apps, schema_editor):
    TaxRate = apps.get_model("subscriptions", "TaxRate")
    TaxRate.objects.filter(country__in=EU_STANDARD_VAT_RATES).delete()


class Migration(migrations.Migration):
    dependencies = [("subscriptions", "0001_initial")]

    operations = [migrations.RunPython(seed_rates, unseed_rates)]
