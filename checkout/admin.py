"""Checkout records for staff: read-only, since money history is never edited in place."""

from django.contrib import admin

from checkout.models import Order, OrderLine, Payment, PaymentMethod, StripeEvent
from subscriptions.admin import ReadOnlyAdmin


@admin.register(PaymentMethod)
class PaymentMethodAdmin(admin.ModelAdmin):
    list_display = ["account", "brand", "last4", "exp_month", "exp_year", "gateway", "is_default"]
    list_filter = ["gateway"]
    readonly_fields = ["gateway", "gateway_reference", "brand", "last4", "exp_month", "exp_year"]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = [
        "product_name",
        "from_seats",
        "to_seats",
        "unit_price",
        "new_period_start",
        "new_period_end",
        "credit",
        "charge",
        "subtotal",
        "tax",
        "total",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    can_delete = False
    fields = ["gateway", "reference", "amount", "status", "failure_reason", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "number",
        "account",
        "placed_at",
        "amount_due",
        "email_status",
        "payment_problem",
    ]
    list_filter = ["email_status", "tax_kind"]
    search_fields = ["number", "account__name", "payments__reference"]
    inlines = [OrderLineInline, PaymentInline]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["reference", "account", "amount", "status", "failure_reason", "created_at"]
    list_filter = ["status", "gateway"]
    search_fields = ["reference", "account__name", "checkout_token"]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "created", "result", "received_at"]
    list_filter = ["type", "result"]
    search_fields = ["event_id"]
