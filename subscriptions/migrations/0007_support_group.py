"""The "Support" group with the least its work needs: see every customer record,
take the support actions (each through a service, audited), edit nothing else.

Support users cannot change users, passwords, permissions, tax rates or plans.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = {
    "subscriptions": [
        "account",
        "membership",
        "product",
        "plan",
        "subscription",
        "seatassignment",
        "seatchange",
        "creditledgerentry",
        "taxrate",
        "auditentry",
        "user",
    ],
    "checkout": ["paymentmethod", "cart", "cartline", "order", "orderline", "payment", "stripeevent"],
}
EXTRA = [("subscriptions", "support_actions")]


def make_support_group(apps, schema_editor):
    # Permissions are normally created after all migrations; create them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Support")
    wanted = [(app, f"view_{model}") for app, models in VIEW.items() for model in models] + EXTRA
    permissions = [
        Permission.objects.get(content_type__app_label=app, codename=codename)
        for app, codename in wanted
    ]
    group.permissions.set(permissions)


def remove_support_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Support").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("subscriptions", "0006_support_permission"),
        ("checkout", "0003_support_and_renewals"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(make_support_group, remove_support_group)]
