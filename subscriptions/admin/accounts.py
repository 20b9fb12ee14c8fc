"""Accounts with their members, subscriptions, ledger and audit inline.

Support actions: add a credit or correction, switch the billing channel.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from moneyed import Money

from subscriptions import clock
from subscriptions.admin.base import ReadOnlyInline
from subscriptions.admin.billing_profile import PROFILE_FIELDS, edit_billing_profile
from subscriptions.admin_actions import (
    PortalModelAdmin,
    ReasonForm,
    SupportPermissionMixin,
    support_action,
)
from subscriptions.credit import credit_balance
from subscriptions.forms import DECIMAL_NUMBER
from subscriptions.models import Account, AuditEntry, CreditLedgerEntry, Membership, Subscription
from subscriptions.services import SUPPORT_CREDIT_LIMIT


class MembershipInline(ReadOnlyInline):
    """Roles and removal go through the Membership admin's actions (members.services),
    which keep the last billing admin and write the activity entry."""

    model = Membership
    fields = ["user", "role", "created_at"]
    readonly_fields = fields


class SubscriptionInline(ReadOnlyInline):
    model = Subscription
    fields = ["plan", "status", "seats", "current_period_start", "current_period_end"]
    readonly_fields = fields


class LedgerInline(ReadOnlyInline):
    model = CreditLedgerEntry
    fields = ["created_at", "amount", "reason", "reference", "note", "created_by"]
    readonly_fields = fields


class AuditInline(ReadOnlyInline):
    model = AuditEntry
    fields = ["at", "actor", "action", "target", "before", "after", "reason"]
    readonly_fields = fields
    show_change_link = False


class TrialEndingSoonFilter(admin.SimpleListFilter):
    title = "trial ending soon"
    parameter_name = "trial_ending"

    def lookups(self, request, model_admin):
        return [("7", "within 7 days")]

    def queryset(self, request, queryset):
        if self.value() == "7":
            now = clock.now()
            return queryset.filter(
                subscriptions__status=Subscription.Status.TRIAL,
                subscriptions__trial_end__gte=now,
                subscriptions__trial_end__lt=now + timedelta(days=7),
            ).distinct()
        return queryset


class PastDueFilter(admin.SimpleListFilter):
    title = "past due"
    parameter_name = "past_due"

    def lookups(self, request, model_admin):
        return [("yes", "has a past-due subscription")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(subscriptions__status=Subscription.Status.PAST_DUE).distinct()
        return queryset


class CreditForm(ReasonForm):
    kind = forms.ChoiceField(
        choices=[
            (CreditLedgerEntry.Reason.GOODWILL, "Goodwill credit"),
            (CreditLedgerEntry.Reason.CORRECTION, "Correction (negative takes credit away)"),
        ]
    )
    amount = forms.CharField(label="Amount", max_length=20, help_text="e.g. 25.00 or -10.00")

    def clean_amount(self):
        text = self.cleaned_data["amount"].strip()
        if not DECIMAL_NUMBER.fullmatch(text):  # ASCII digits only, as in the portal
            raise ValidationError("Enter an amount such as 25.00.")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise ValidationError("Enter an amount such as 25.00.") from None
        if not amount.is_finite() or amount == 0 or abs(amount) > SUPPORT_CREDIT_LIMIT:
            raise ValidationError(f"Enter a non-zero amount up to {SUPPORT_CREDIT_LIMIT:,}.")
        return Money(amount, self.obj.currency)


def _apply_credit(account, form, staff):
    from subscriptions.services import account_credit_adjust

    account_credit_adjust(
        account=account,
        amount=form.cleaned_data["amount"],
        kind=form.cleaned_data["kind"],
        reason=form.cleaned_data["reason"],
        staff=staff,
    )
    return f"Ledger entry added. {account} now has {credit_balance(account)}."


class ChannelForm(ReasonForm):
    channel = forms.ChoiceField(choices=Account.BillingChannel.choices)


def _apply_channel(account, form, staff):
    from subscriptions.services import account_channel_switch

    account_channel_switch(
        account=account,
        channel=form.cleaned_data["channel"],
        reason=form.cleaned_data["reason"],
        staff=staff,
    )
    return f"{account} is now billed through the {form.cleaned_data['channel']} channel."


@admin.register(Account)
class AccountAdmin(SupportPermissionMixin, PortalModelAdmin):
    list_display = ["name", "country", "currency", "billing_channel", "vat_number", "credit"]
    list_filter = [
        "billing_channel",
        "country",
        "currency",
        "subscriptions__status",
        TrialEndingSoonFilter,
        PastDueFilter,
    ]
    search_fields = [
        "name",
        "vat_number",
        "stripe_customer_id",
        "memberships__user__email",
        "orders__number",
        "payments__reference",
    ]
    # The currency is fixed once money moved in it; the channel changes through its action.
    readonly_fields = [
        "currency",
        "billing_channel",
        "stripe_customer_id",
        "credit",
        "history_links",
        *PROFILE_FIELDS,  # changed through the billing profile action, with a reason
    ]
    inlines = [MembershipInline, SubscriptionInline, LedgerInline, AuditInline]
    actions = [
        support_action(
            description="Add a credit or a charge correction",
            form_class=CreditForm,
            apply=_apply_credit,
        ),
        support_action(
            description="Switch between self-service and corporate billing",
            form_class=ChannelForm,
            apply=_apply_channel,
        ),
        edit_billing_profile,
    ]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is None:  # a new account chooses its currency once, here
            return [field for field in fields if field != "currency"]
        return fields

    @admin.display(description="credit balance")
    def credit(self, account):
        if account.pk is None:  # not saved yet: no currency, no ledger
            return "-"
        return credit_balance(account)

    @admin.display(description="history")
    def history_links(self, account):
        if account.pk is None:
            return "-"
        links = [
            ("Orders", "admin:checkout_order_changelist", "account__id__exact"),
            ("Payments", "admin:payments_payment_changelist", "account__id__exact"),
            ("Seat changes", "admin:subscriptions_seatchange_changelist",
             "subscription__account__id__exact"),
            ("Confirmation emails", "admin:checkout_order_changelist", "account__id__exact"),
        ]  # fmt: skip
        return format_html(
            " · ".join(['<a href="{}?{}={}">{}</a>'] * len(links)),
            *[
                part
                for label, url, field in links
                for part in (reverse(url), field, account.pk, label)
            ],
        )
