"""Payments: the card on file, each attempt to take an amount, and Stripe's events.

The tables kept the names they had in the checkout app (``checkout_payment`` …)
when the models moved here: the move changed no row.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from subscriptions.models import Account

# A renewal's attempts carry this prefix on their checkout token; Place order's never do.
RENEWAL_TOKEN_PREFIX = "renewal:"


def _money(verbose_name: str) -> MoneyField:
    return MoneyField(verbose_name, max_digits=16, decimal_places=2, currency_max_length=3)


class PaymentMethod(models.Model):
    """A card on file. Only what a person needs to recognise it; never the number."""

    class Gateway(models.TextChoices):
        SANDBOX = "sandbox", _("Sandbox")
        STRIPE = "stripe", _("Stripe")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="payment_methods")
    gateway = models.CharField(_("gateway"), max_length=16, choices=Gateway.choices)
    gateway_reference = models.CharField(_("gateway reference"), max_length=255)
    brand = models.CharField(_("brand"), max_length=32)
    last4 = models.CharField(_("last four digits"), max_length=4)
    exp_month = models.PositiveSmallIntegerField(
        _("expiry month"), validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    exp_year = models.PositiveSmallIntegerField(_("expiry year"))
    is_default = models.BooleanField(_("default"), default=True)
    # Entered on the review for one payment: forgotten if that payment places nothing,
    # the card on file once it has paid. A card replaced on the card page is neither.
    entered_at_checkout = models.BooleanField(_("entered at checkout"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        db_table = "checkout_paymentmethod"  # the table kept its name when the model moved
        verbose_name = _("payment method")
        verbose_name_plural = _("payment methods")
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(is_default=True),
                name="payment_method_one_default_per_account",
            ),
            models.UniqueConstraint(
                fields=["gateway", "gateway_reference"], name="payment_method_unique_reference"
            ),
            models.CheckConstraint(
                condition=Q(exp_month__gte=1) & Q(exp_month__lte=12),
                name="payment_method_exp_month_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand} •••• {self.last4} ({self.exp_month:02d}/{self.exp_year})"


class Payment(models.Model):
    """One attempt to take an order's amount through a gateway.

    The row is written and committed *before* the gateway is asked, and its
    gateway reference as soon as it is known, so that a crash, a timeout or a
    second click finds it and asks the gateway what happened instead of
    charging again. ``order`` is set when the order is placed.
    """

    class Status(models.TextChoices):
        PROCESSING = "processing", _("Processing")
        REQUIRES_ACTION = "requires_action", _("Requires authentication")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Canceled")
        REFUNDED = "refunded", _("Refunded")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payments")
    order = models.ForeignKey(
        "checkout.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    payment_method = models.ForeignKey(
        PaymentMethod, on_delete=models.SET_NULL, null=True, blank=True, related_name="payments"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    checkout_token = models.CharField(_("checkout token"), max_length=64)
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    gateway = models.CharField(_("gateway"), max_length=16)
    reference = models.CharField(_("gateway reference"), max_length=255, blank=True)
    client_secret = models.CharField(_("authentication secret"), max_length=255, blank=True)
    amount = _money(_("amount"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PROCESSING
    )
    failure_reason = models.CharField(_("failure reason"), max_length=500, blank=True)
    # What the admin reviewed, so an authenticated payment can complete that same order.
    quoted_at = models.DateTimeField(_("quoted at"))
    fingerprint = models.CharField(_("review fingerprint"), max_length=64)
    language = models.CharField(_("language"), max_length=8, default="en")
    # While set and in the future, one request owns the attempt; others wait.
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    # A renewal payment the bank asked the customer to authenticate: when its billing
    # admins were sent the link to do it (unset while the request is still to be sent).
    authentication_requested_at = models.DateTimeField(
        _("authentication requested at"), null=True, blank=True
    )
    # When the newest gateway event applied to this payment happened (webhooks
    # arrive out of order; an older one never moves the payment backwards).
    last_event_at = models.DateTimeField(_("last gateway event"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "checkout_payment"
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-id"]
        # As Order's: an index and a unique constraint without the LIKE index that
        # db_index=True and unique=True add to text fields on PostgreSQL.
        indexes = [models.Index(fields=["checkout_token"], name="payment_checkout_token")]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"], name="payment_idempotency_key_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "processing",
                        "requires_action",
                        "succeeded",
                        "failed",
                        "canceled",
                        "refunded",
                    ]
                ),
                name="payment_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.get_status_display()} ({self.reference or self.pk})"

    @property
    def is_renewal(self) -> bool:
        """An attempt of the renewal run (or of its dunning), not of Place order."""
        return self.checkout_token.startswith(RENEWAL_TOKEN_PREFIX)

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.PROCESSING, self.Status.REQUIRES_ACTION)


class StripeEvent(models.Model):
    """A verified Stripe webhook event, stored once by its id and handled once."""

    event_id = models.CharField(_("event id"), max_length=255, unique=True)
    type = models.CharField(_("type"), max_length=100)
    created = models.DateTimeField(_("created at Stripe"))
    payload = models.JSONField(_("payload"))
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    result = models.CharField(_("result"), max_length=255, blank=True)

    class Meta:
        db_table = "checkout_stripeevent"
        verbose_name = _("Stripe event")
        verbose_name_plural = _("Stripe events")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
