"""Support sees invoices (read-only in the admin) and re-sends them (support_actions)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def support_sees_invoices(apps, schema_editor):
    # Permissions are normally created after all migrations; create them now.
    app_config = apps.get_app_config("invoices")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Support")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="invoices", codename="view_invoice")
    )


def support_sees_no_invoices(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name="Support"):
        group.permissions.remove(
            *group.permissions.filter(content_type__app_label="invoices")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0001_invoices_and_counters"),
        ("subscriptions", "0007_support_group"),
    ]

    operations = [migrations.RunPython(support_sees_invoices, support_sees_no_invoices)]
