"""Subscriptions and their trial and cancellation support actions; seats, read-only."""

from __future__ import annotations

from django.contrib import admin

from subscriptions.activity import Channel
from subscriptions.admin.base import ReadOnlyAdmin
from subscriptions.admin_actions import (
    PortalModelAdmin,
    ReasonForm,
    SupportPermissionMixin,
    support_action,
)
from subscriptions.forms import WholeNumberField
from subscriptions.models import SeatAssignment, SeatChange, Subscription


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
        subscription=subscription,
        cancel=True,
        actor=staff,
        channel=Channel.ADMIN,
        reason=form.cleaned_data["reason"],
    )
    ends = f"{subscription.current_period_end:%Y-%m-%d}"
    return f"{subscription} ends at the end of its period ({ends})."


def _apply_reactivate(subscription, form, staff):
    from subscriptions.services import subscription_cancel_at_period_end

    subscription_cancel_at_period_end(
        subscription=subscription,
        cancel=False,
        actor=staff,
        channel=Channel.ADMIN,
        reason=form.cleaned_data["reason"],
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
