"""The Django admin for support staff.

Money history (ledger, seat changes, orders, payments, audit) is read-only:
it changes only through services, and the support actions below call the
same services as the pages, each with a reason and an audit entry.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from axes import admin as axes_admin
from axes.conf import settings as axes_settings
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from moneyed import Money

from subscriptions import clock
from subscriptions.admin_actions import (
    PortalModelAdmin,
    ReasonForm,
    SupportPermissionMixin,
    support_action,
)
from subscriptions.credit import credit_balance
from subscriptions.forms import DECIMAL_NUMBER, WholeNumberField
from subscriptions.models import (
    Account,
    AuditEntry,
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
from subscriptions.services import SUPPORT_CREDIT_LIMIT


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


# -- Accounts -------------------------------------------------------------------------


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


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


# -- Catalogue --------------------------------------------------------------------------


@admin.register(Product)
class ProductAdmin(PortalModelAdmin):
    search_fields = ["name"]


@admin.register(Plan)
class PlanAdmin(PortalModelAdmin):
    list_display = ["product", "interval", "price", "min_seats", "max_seats", "is_active"]
    list_filter = ["interval", "is_active", "price_currency"]


# -- Subscriptions ------------------------------------------------------------------------


class TrialForm(ReasonForm):
    days = WholeNumberField(label="Extend by (days)", min_value=1, max_value=365)


def _apply_trial(subscription, form, staff):
    from subscriptions.services import subscription_trial_extend

    extended = subscription_trial_extend(
        subscription=subscription,
        days=form.cleaned_data["days"],
        reason=form.cleaned_data["reason"],
        staff=staff,
    )
    return f"The trial now ends {extended.trial_end:%Y-%m-%d %H:%M} UTC."


class CancelForm(ReasonForm):
    pass


class ReactivateForm(ReasonForm):
    pass


def _apply_cancel(subscription, form, staff):
    from subscriptions.services import subscription_cancel_at_period_end

    subscription_cancel_at_period_end(
        subscription=subscription, cancel=True, reason=form.cleaned_data["reason"], staff=staff
    )
    ends = f"{subscription.current_period_end:%Y-%m-%d}"
    return f"{subscription} ends at the end of its period ({ends})."


def _apply_reactivate(subscription, form, staff):
    from subscriptions.services import subscription_cancel_at_period_end

    subscription_cancel_at_period_end(
        subscription=subscription, cancel=False, reason=form.cleaned_data["reason"], staff=staff
    )
    return f"{subscription} will renew again."


@admin.register(Subscription)
class SubscriptionAdmin(SupportPermissionMixin, PortalModelAdmin):
    list_display = [
        "account",
        "plan",
        "status",
        "seats",
        "current_period_end",
        "cancel_at_period_end",
    ]
    list_filter = ["status", "plan__interval", "cancel_at_period_end"]
    search_fields = ["account__name", "account__memberships__user__email"]
    # Seats, periods and status change only through services (with history and rules).
    readonly_fields = [
        "account",
        "plan",
        "status",
        "seats",
        "billing_anchor",
        "current_period_start",
        "current_period_end",
        "trial_end",
        "cancel_at_period_end",
        "past_due_since",
        "renewal_attempts",
        "next_renewal_attempt_at",
        "version",
    ]
    actions = [
        support_action(description="Extend the trial", form_class=TrialForm, apply=_apply_trial),
        support_action(
            description="Cancel at the end of the period",
            form_class=CancelForm,
            apply=_apply_cancel,
        ),
        support_action(
            description="Reactivate (undo a pending cancellation)",
            form_class=ReactivateForm,
            apply=_apply_reactivate,
        ),
    ]


@admin.register(SeatAssignment)
class SeatAssignmentAdmin(ReadOnlyAdmin):
    """Assignments go through ``seat_assign``, which keeps them within the seats."""

    list_display = ["subscription", "user", "assigned_at"]


@admin.register(SeatChange)
class SeatChangeAdmin(ReadOnlyAdmin):
    list_display = ["subscription", "from_seats", "to_seats", "at", "channel", "changed_by"]
    list_filter = ["channel"]
    search_fields = ["order_reference", "subscription__account__name"]


@admin.register(CreditLedgerEntry)
class CreditLedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["account", "amount", "reason", "reference", "created_at", "created_by"]
    list_filter = ["reason"]
    search_fields = ["account__name", "reference"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "account", "action", "target", "reason"]
    list_filter = ["action"]
    search_fields = ["account__name", "actor__email", "target", "reason"]


@admin.register(TaxRate)
class TaxRateAdmin(PortalModelAdmin):
    list_display = ["country", "rate", "updated_at"]
    search_fields = ["country"]
