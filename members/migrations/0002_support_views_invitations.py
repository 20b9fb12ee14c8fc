"""Support sees invitations (and revokes or resends them through the admin's actions)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    app_config = apps.get_app_config("members")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Support").first()
    if group is not None:
        group.permissions.add(
            Permission.objects.get(content_type__app_label="members", codename="view_invitation")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0001_invitation"),
        ("subscriptions", "0007_support_group"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
