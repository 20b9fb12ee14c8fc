"""Products, plans and tax rates, edited by staff."""

from __future__ import annotations

from django.contrib import admin

from subscriptions.admin_actions import PortalModelAdmin
from subscriptions.models import Plan, Product, TaxRate


@admin.register(Product)
class ProductAdmin(PortalModelAdmin):
    search_fields = ["name"]


@admin.register(Plan)
class PlanAdmin(PortalModelAdmin):
    list_display = ["product", "interval", "price", "min_seats", "max_seats", "is_active"]
    list_filter = ["interval", "is_active", "price_currency"]


@admin.register(TaxRate)
class TaxRateAdmin(PortalModelAdmin):
    list_display = ["country", "rate", "updated_at"]
    search_fields = ["country"]
