"""Checkout records for staff: read-only, since money history is never edited in place."""

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from checkout.models import Order, OrderLine, Payment, PaymentMethod, StripeEvent
from subscriptions.admin import ReadOnlyAdmin
from subscriptions.admin_actions import (
    PortalModelAdmin,
    ReasonForm,
    SupportPermissionMixin,
    support_action,
)
from subscriptions.templatetags.billing import money_text


@admin.register(PaymentMethod)
class PaymentMethodAdmin(PortalModelAdmin):
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


class ResendForm(ReasonForm):
    pass


def _apply_resend(order, form, staff):
    from checkout.staff import order_email_resend

    order_email_resend(order=order, reason=form.cleaned_data["reason"], staff=staff)
    return f"The confirmation of {order.number} is on its way again."


@admin.register(Order)
class OrderAdmin(SupportPermissionMixin, ReadOnlyAdmin):
    list_display = [
        "number",
        "account",
        "placed_at",
        "amount_due",
        "email_status",
        "payment_problem",
    ]
    list_filter = ["email_status", "kind", "tax_kind", "account"]
    search_fields = ["number", "account__name", "payments__reference"]
    inlines = [OrderLineInline, PaymentInline]
    readonly_fields = ["calculation"]
    actions = [
        support_action(
            description="Resend the confirmation email", form_class=ResendForm, apply=_apply_resend
        )
    ]

    @admin.display(description="how the amount came about")
    def calculation(self, order):
        """The whole calculation, line by line, as in docs/billing-rules.md."""

        def amount(value):
            return money_text(value, locale="en_US")

        rows = []
        for line in order.lines.all():
            unused = line.period_end - order.effective_at
            length = line.period_end - line.period_start
            fraction = unused / length if length and line.from_seats else 0
            rows.append(
                (
                    line.product_name,
                    f"{line.from_seats} → {line.to_seats} licenses at {line.unit_price} "
                    f"per {line.interval}",
                    f"period [{line.period_start:%Y-%m-%d %H:%M}, {line.period_end:%Y-%m-%d %H:%M})"
                    f" UTC, changed {order.effective_at:%Y-%m-%d %H:%M:%S} UTC; unused "
                    f"{unused} of {length} = {fraction:.6f}",
                    f"credit = {line.from_seats} × {amount(line.unit_price)} × {fraction:.6f} = "
                    f"{amount(line.credit)}; charge = {line.to_seats} × {amount(line.unit_price)}"
                    f" = {amount(line.charge)}; subtotal = {amount(line.subtotal)}; "
                    f"VAT {order.tax_rate} % = {amount(line.tax)}; total = {amount(line.total)}",
                )
            )
        body = format_html_join(
            "",
            "<tr><th>{}</th><td>{}<br>{}<br>{}</td></tr>",
            rows,
        )
        totals = format_html(
            "<tr><th>Order</th><td>subtotal {} + VAT {} = total {}; account credit applied {}, "
            "added {}; charged {}{}</td></tr>",
            amount(order.subtotal),
            amount(order.tax),
            amount(order.total),
            amount(order.credit_applied),
            amount(order.credit_added),
            amount(order.amount_due),
            " (reverse charge)" if order.is_reverse_charge else "",
        )
        return format_html("<table>{}{}</table>", body, totals)


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
