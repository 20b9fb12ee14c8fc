"""A first admin for staff: catalogue and tax rates editable, money history read-only.

The support workflow (actions, audit, search across accounts) builds on this.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from subscriptions.models import (
    Account,
    CreditLedgerEntry,
    Membership,
    Plan,
    Product,
    SeatAssignment,
    SeatChange,
    Subscription,
    TaxRate,
    User,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is appended by services, never edited in place."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["full_name", "language"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "country", "currency", "billing_channel", "vat_number"]
    list_filter = ["billing_channel", "country", "currency"]
    search_fields = ["name", "vat_number", "memberships__user__email"]
    inlines = [MembershipInline]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["product", "interval", "price", "min_seats", "max_seats", "is_active"]
    list_filter = ["interval", "is_active", "price_currency"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["account", "plan", "status", "seats", "current_period_end"]
    list_filter = ["status", "plan__interval"]
    search_fields = ["account__name"]
    # Seats and periods change only through the seat-change service (with its
    # history row and rules); the support actions for that come with the admin work.
    readonly_fields = [
        "status",
        "seats",
        "billing_anchor",
        "current_period_start",
        "current_period_end",
        "version",
    ]


@admin.register(SeatAssignment)
class SeatAssignmentAdmin(ReadOnlyAdmin):
    """Assignments go through ``seat_assign``, which keeps them within the seats."""

    list_display = ["subscription", "user", "assigned_at"]


@admin.register(SeatChange)
class SeatChangeAdmin(ReadOnlyAdmin):
    list_display = ["subscription", "from_seats", "to_seats", "at", "channel", "changed_by"]
    list_filter = ["channel"]


@admin.register(CreditLedgerEntry)
class CreditLedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["account", "amount", "reason", "reference", "created_at", "created_by"]
    list_filter = ["reason"]


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ["country", "rate", "updated_at"]
    search_fields = ["country"]
