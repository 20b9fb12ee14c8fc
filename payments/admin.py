"""Payment records for staff: read-only, since money history is never edited in place."""

from django.contrib import admin

from payments.models import Payment, PaymentMethod, StripeEvent
from subscriptions.admin import ReadOnlyAdmin
from subscriptions.admin_actions import PortalModelAdmin


@admin.register(PaymentMethod)
class PaymentMethodAdmin(PortalModelAdmin):
    list_display = ["account", "brand", "last4", "exp_month", "exp_year", "gateway", "is_default"]
    list_filter = ["gateway"]
    readonly_fields = ["gateway", "gateway_reference", "brand", "last4", "exp_month", "exp_year"]


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
