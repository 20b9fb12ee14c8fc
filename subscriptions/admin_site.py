"""The admin site: Django's, with the portal's input checks in every model admin.

Named in INSTALLED_APPS in place of ``django.contrib.admin``; this module is imported
while the app registry is loading, so it imports no models (nor modules that do).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class PortalAdminSite(admin.AdminSite):
    """Every model admin registered here (Django's own and other packages' included)
    gets ``CheckedInputAdminMixin``: ASCII digits only in number fields, and actions
    only on a selection of real rows."""

    def register(self, model_or_iterable, admin_class=None, **options):
        from subscriptions.admin_actions import CheckedInputAdminMixin

        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, CheckedInputAdminMixin):
            admin_class = type(
                admin_class.__name__,
                (CheckedInputAdminMixin, admin_class),
                {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
            )
        super().register(model_or_iterable, admin_class, **options)


class PortalAdminConfig(AdminConfig):
    """``django.contrib.admin`` with ``PortalAdminSite`` as ``admin.site``."""

    default_site = "subscriptions.admin_site.PortalAdminSite"
