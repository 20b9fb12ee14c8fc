"""Admin bases for history: shown to staff, never added, changed or deleted here."""

from __future__ import annotations

from django.contrib import admin

from subscriptions.admin_actions import PortalModelAdmin


class ReadOnlyAdmin(PortalModelAdmin):
    """History is appended by services, never edited in place."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
