"""What the renewals must not forget: the emails owed to the billing admins.

Each row is written in the transaction that made the email due (the renewal
batch's record step, the reminder batch), so an email the broker lost is still
owed and a sweeper sends it; its ``sent_at`` is set under the row's lock when it
went, so no retry or second run sends it twice.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from payments.models import Payment
from subscriptions.models import Subscription


class PaymentFailureNotice(models.Model):
    """The email that a renewal charge failed, owed once per failed attempt."""

    payment = models.OneToOneField(
        Payment, on_delete=models.CASCADE, primary_key=True, related_name="failure_notice"
    )
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="payment_failure_notices"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("payment failure notice")
        verbose_name_plural = _("payment failure notices")

    def __str__(self) -> str:
        return f"Payment {self.payment_id} failed ({'sent' if self.sent_at else 'unsent'})"


class RenewalReminder(models.Model):
    """The reminder, 30 days ahead, that a yearly subscription renews: once per period."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="renewal_reminders"
    )
    # The end of the current period: the renewal's date, and with it the period reminded of.
    period_end = models.DateTimeField(_("renews on"))
    amount = MoneyField(_("amount"), max_digits=16, decimal_places=2, currency_max_length=3)
    language = models.CharField(_("language"), max_length=8, default="en")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("renewal reminder")
        verbose_name_plural = _("renewal reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "period_end"], name="renewal_reminder_once_per_period"
            )
        ]

    def __str__(self) -> str:
        return (
            f"Reminder for subscription {self.subscription_id} renewing {self.period_end:%Y-%m-%d}"
        )
