"""Seed the EU member states' standard VAT rates (percent), as in force in 2026.

Staff keep them current in the admin; this migration only fills an empty
table and never overwrites a rate someone has edited.
"""

from decimal import Decimal

from django.db import migrations

EU_STANDARD_VAT_RATES = {
    "AT": "20", "BE": "21", "BG": "20", "CY": "19", "CZ": "21", "DE": "19", "DK": "25",
    "EE": "24", "ES": "21", "FI": "25.5", "FR": "20", "GR": "24", "HR": "25", "HU": "27",
    "IE": "23", "IT": "22", "LT": "21", "LU": "17", "LV": "21", "MT": "18", "NL": "21",
    "PL": "23", "PT": "23", "RO": "21", "SE": "25", "SI": "22", "SK": "23",
}  # fmt: skip


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
