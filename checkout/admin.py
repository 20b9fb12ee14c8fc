from django.contrib import admin

from checkout.models import PaymentMethod


@admin.register(PaymentMethod)
class PaymentMethodAdmin(admin.ModelAdmin):
    list_display = ["account", "brand", "last4", "exp_month", "exp_year", "gateway", "is_default"]
    list_filter = ["gateway"]
    readonly_fields = ["gateway", "gateway_reference", "brand", "last4", "exp_month", "exp_year"]
