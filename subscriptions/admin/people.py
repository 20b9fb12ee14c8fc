"""Users and groups, and django-axes' sign-in records, on the portal's admin base."""

from __future__ import annotations

from axes import admin as axes_admin
from axes.conf import settings as axes_settings
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group

from subscriptions.admin_actions import PortalModelAdmin
from subscriptions.models import User


@admin.register(User)
class UserAdmin(PortalModelAdmin, DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["full_name", "language"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        # "I asked for a reset but got nothing": at most one email per
        # PASSWORD_RESET_EMAIL_INTERVAL, so support can see when the last one went out.
        ("Sign-in", {"fields": ["last_login", "password_reset_sent_at"]}),
    ]
    readonly_fields = ["last_login", "password_reset_sent_at"]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


# Django's and django-axes' admins, registered again on the portal's base so that their
# forms and actions (delete_selected included) are checked as the portal's own are.
# Importing their admin modules above registers them first, whatever the app order.
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(PortalModelAdmin, DjangoGroupAdmin):
    pass


if axes_settings.AXES_ENABLE_ADMIN:
    admin.site.unregister([AccessAttempt, AccessLog, AccessFailureLog])

    @admin.register(AccessAttempt)
    class AccessAttemptAdmin(PortalModelAdmin, axes_admin.AccessAttemptAdmin):
        pass

    @admin.register(AccessLog)
    class AccessLogAdmin(PortalModelAdmin, axes_admin.AccessLogAdmin):
        pass

    @admin.register(AccessFailureLog)
    class AccessFailureLogAdmin(PortalModelAdmin, axes_admin.AccessFailureLogAdmin):
        pass
