"""Checkout records for staff: read-only, since money history is never edited in place."""

from datetime import datetime

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from checkout.errors import CheckoutError
from checkout.models import Order, OrderLine
from checkout.services import REVIEW_VALID_FOR
from checkout.staff import staff_seat_change, staff_seat_change_review
from payments.models import Payment
from subscriptions import admin as subscriptions_admin
from subscriptions import clock
from subscriptions.admin_actions import (
    ReasonForm,
    SupportPermissionMixin,
    read_preview,
    sign_preview,
    support_action,
)
from subscriptions.forms import WholeNumberField
from subscriptions.models import Subscription
from subscriptions.templatetags.billing import money_text


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
class OrderAdmin(SupportPermissionMixin, subscriptions_admin.ReadOnlyAdmin):
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


# -- The staff seat change: the same order as Place order, on the Subscription admin --


class SeatChangeForm(ReasonForm):
    seats = WholeNumberField(label="New number of licenses", min_value=0, max_value=10**9)
    preview_token = forms.CharField(required=False, widget=forms.HiddenInput)

    def preview(self):
        at = clock.now()
        try:
            review = staff_seat_change_review(
                subscription=self.obj, new_seats=self.cleaned_data["seats"], at=at
            )
        except CheckoutError as error:  # a refusal: said on the form, nothing changed
            raise ValidationError(str(error) or error.code) from error
        quote = review.quote
        line = quote.lines[0][1]
        token = sign_preview(
            {
                "subscription": self.obj.pk,
                "at": at.isoformat(),
                "fp": quote.fingerprint(),
                "seats": self.cleaned_data["seats"],
            }
        )
        self.data = self.data.copy()
        self.data["preview_token"] = token

        def amount(value):
            return money_text(value, locale="en_US")

        period = (
            f"{line.new_period_start:%Y-%m-%d %H:%M} → {line.new_period_end:%Y-%m-%d %H:%M} UTC"
        )
        return {
            "rows": [
                ("Licenses", f"{line.current_seats} → {line.new_seats}"),
                ("New period", period),
                ("Credit for unused time", amount(-quote.credit)),
                ("Charge for the new period", amount(quote.charge)),
                ("Subtotal", amount(quote.subtotal)),
                (f"VAT {quote.tax.rate} % ({quote.tax.kind})", amount(quote.tax_amount)),
                ("Total", amount(quote.total)),
                ("Account credit applied", amount(quote.credit_applied)),
                ("Added to account credit", amount(quote.credit_added)),
                ("Charged to the card on file", amount(quote.amount_due)),
            ]
        }


def _apply_seat_change(subscription, form, staff):
    token = form.cleaned_data.get("preview_token") or ""
    if not token:
        raise ValidationError("Preview the change first.")
    try:
        preview = read_preview(token, max_age=int(REVIEW_VALID_FOR.total_seconds()))
    except Exception:
        raise ValidationError("The preview is too old or was altered; preview again.") from None
    if (
        preview.get("subscription") != subscription.pk
        or preview["seats"] != form.cleaned_data["seats"]
    ):
        raise ValidationError("The number changed since the preview; preview again.")
    try:
        order = staff_seat_change(
            subscription=subscription,
            new_seats=form.cleaned_data["seats"],
            staff=staff,
            reason=form.cleaned_data["reason"],
            quoted_at=datetime.fromisoformat(preview["at"]),
            fingerprint=preview["fp"],
        )
    except CheckoutError as error:
        raise ValidationError(str(error) or error.code) from error
    return f"Seats changed by order {order.number} ({order.amount_due} charged)."


admin.site.unregister(Subscription)


@admin.register(Subscription)
class SubscriptionAdmin(subscriptions_admin.SubscriptionAdmin):
    actions = [
        support_action(
            description="Change seats on the customer's behalf",
            form_class=SeatChangeForm,
            apply=_apply_seat_change,
        ),
        *subscriptions_admin.SubscriptionAdmin.actions,
    ]
