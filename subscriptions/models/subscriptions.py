"""Subscriptions, the seats users hold on them, and each change of seats."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from subscriptions.models.accounts import Account, User
from subscriptions.models.catalog import Plan
from subscriptions.models.history import AppendOnlyModel


class Subscription(models.Model):
    """An account's seats on a plan, billed in periods counted from the billing anchor."""

    class Status(models.TextChoices):
        TRIAL = "trial", _("Free trial")
        ACTIVE = "active", _("Active")
        EXPIRED = "expired", _("Trial expired")
        PAST_DUE = "past_due", _("Past due")
        SUSPENDED = "suspended", _("Suspended")
        CANCELED = "canceled", _("Canceled")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="subscriptions")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    seats = models.PositiveIntegerField(_("licenses"))
    billing_anchor = models.DateTimeField(_("billing anchor"))
    current_period_start = models.DateTimeField(_("current period start"))
    current_period_end = models.DateTimeField(_("current period end"))
    trial_end = models.DateTimeField(_("trial end"), null=True, blank=True)
    # Ends at the end of the current period instead of renewing (support can undo it).
    cancel_at_period_end = models.BooleanField(_("cancel at period end"), default=False)
    # Renewal dunning: when the period's renewal charge first failed, how many
    # charges were tried, and when the next one is due (not a billing rule).
    past_due_since = models.DateTimeField(_("past due since"), null=True, blank=True)
    renewal_attempts = models.PositiveSmallIntegerField(_("renewal attempts"), default=0)
    next_renewal_attempt_at = models.DateTimeField(_("next renewal attempt"), null=True, blank=True)
    # Bumped on every change so a stale review can be told from a fresh one.
    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        ordering = ["account__name", "plan__product__name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(seats__gte=0), name="subscription_seats_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=["trial", "active", "expired", "past_due", "suspended", "canceled"]
                ),
                name="subscription_status_known",
            ),
            models.CheckConstraint(
                condition=Q(current_period_end__gt=models.F("current_period_start")),
                name="subscription_period_end_after_start",
            ),
            models.UniqueConstraint(
                fields=["account", "plan"],
                condition=~Q(status="canceled"),
                name="subscription_one_open_per_account_plan",
            ),
        ]
        indexes = [models.Index(fields=["status", "current_period_end"])]

    def __str__(self) -> str:
        return f"{self.account}: {self.plan.product} ({self.seats})"

    def clean(self) -> None:
        super().clean()
        if self.plan_id and self.account_id and self.plan.price_currency != self.account.currency:
            raise ValidationError(
                {
                    "plan": _("The plan is priced in %(plan)s but the account pays in %(account)s.")
                    % {"plan": self.plan.price_currency, "account": self.account.currency}
                }
            )
        start, end = self.current_period_start, self.current_period_end
        if start and end and end <= start:
            raise ValidationError({"current_period_end": _("The period must end after it starts.")})


class SeatAssignment(models.Model):
    """A license held by a user; the assigned count is the floor for a reduction."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="assignments"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="seat_assignments")
    assigned_at = models.DateTimeField(_("assigned at"), default=timezone.now)

    class Meta:
        verbose_name = _("seat assignment")
        verbose_name_plural = _("seat assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "user"], name="seat_assignment_one_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.subscription}"


class SeatChange(AppendOnlyModel):
    """One change of a subscription's seats: who, when, from, to, how and why."""

    class Channel(models.TextChoices):
        PORTAL = "portal", _("Billing Center")
        ADMIN = "admin", _("Support (admin)")
        COMMAND = "command", _("Operations command")

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="seat_changes"
    )
    from_seats = models.PositiveIntegerField(_("from licenses"))
    to_seats = models.PositiveIntegerField(_("to licenses"))
    at = models.DateTimeField(_("at"))
    changed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    order_reference = models.CharField(_("order reference"), max_length=64, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("seat change")
        verbose_name_plural = _("seat changes")
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_seats=models.F("to_seats")), name="seat_change_changes_seats"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["portal", "admin", "command"]),
                name="seat_change_channel_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscription}: {self.from_seats} → {self.to_seats}"
