"""The checkout: what the account pays with, its cart, orders and payments."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from subscriptions.models import Account


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


class Cart(models.Model):
    """An account's pending seat changes, one line per subscription.

    ``checkout_token`` names one checkout: it changes whenever the cart does
    and after an order is placed, and an order is placed at most once per
    token (``Order.idempotency_key``).
    """

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="cart")
    checkout_token = models.UUIDField(_("checkout token"), default=uuid.uuid4, unique=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")

    def __str__(self) -> str:
        return f"Cart of {self.account}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    subscription = models.ForeignKey(
        "subscriptions.Subscription", on_delete=models.CASCADE, related_name="+"
    )
    new_seats = models.PositiveIntegerField(_("new number of licenses"))
    added_at = models.DateTimeField(_("added at"), default=timezone.now)

    class Meta:
        verbose_name = _("cart line")
        verbose_name_plural = _("cart lines")
        ordering = ["subscription_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cart", "subscription"], name="cart_line_one_per_subscription"
            ),
            models.CheckConstraint(condition=Q(new_seats__gte=1), name="cart_line_seats_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.subscription} → {self.new_seats}"


def _money(verbose_name: str) -> MoneyField:
    return MoneyField(verbose_name, max_digits=16, decimal_places=2, currency_max_length=3)


class Order(models.Model):
    """A placed seat change (or purchase): every amount as quoted, never edited."""

    class EmailStatus(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    class Kind(models.TextChoices):
        SEAT_CHANGE = "seat_change", _("Seat change")
        RENEWAL = "renewal", _("Renewal")

    number = models.CharField(_("order number"), max_length=32)
    kind = models.CharField(
        _("kind"), max_length=16, choices=Kind.choices, default=Kind.SEAT_CHANGE
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="orders")
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    placed_at = models.DateTimeField(_("placed at"))
    # The instant the seat changes take effect: the instant of the reviewed quote.
    effective_at = models.DateTimeField(_("effective at"))
    idempotency_key = models.CharField(_("checkout token"), max_length=64)
    language = models.CharField(_("language"), max_length=8, default="en")
    tax_kind = models.CharField(_("tax treatment"), max_length=16)
    tax_rate = models.DecimalField(_("VAT rate (%)"), max_digits=5, decimal_places=2)
    vat_number = models.CharField(_("VAT number"), max_length=32, blank=True)
    credit = _money(_("credit for unused time"))
    charge = _money(_("charge"))
    subtotal = _money(_("subtotal"))
    tax = _money(_("VAT"))
    total = _money(_("total"))
    credit_applied = _money(_("account credit applied"))
    credit_added = _money(_("account credit added"))
    amount_due = _money(_("amount due"))
    payment_method_label = models.CharField(_("paid with"), max_length=64, blank=True)
    email_status = models.CharField(
        _("confirmation email"),
        max_length=16,
        choices=EmailStatus.choices,
        default=EmailStatus.PENDING,
    )
    email_error = models.CharField(_("email error"), max_length=500, blank=True)
    email_sent_at = models.DateTimeField(_("email sent at"), null=True, blank=True)
    # A payment that failed after the order was placed (reported later by the gateway).
    payment_problem = models.CharField(_("payment problem"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at", "-id"]
        # Unique as constraints, not unique=True: on PostgreSQL a unique text field also
        # gets a second index for LIKE 'prefix%' searches, which nothing here makes,
        # and which every order's insert paid for.
        constraints = [
            models.UniqueConstraint(fields=["number"], name="order_number_unique"),
            models.UniqueConstraint(fields=["idempotency_key"], name="order_checkout_token_unique"),
            models.CheckConstraint(
                condition=Q(amount_due__gte=0), name="order_amount_due_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(credit_added__gte=0), name="order_credit_added_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_reverse_charge(self) -> bool:
        return self.tax_kind == "reverse_charge"


class OrderLine(models.Model):
    """One subscription's change inside an order, with its whole calculation."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="lines")
    subscription = models.ForeignKey(
        "subscriptions.Subscription", on_delete=models.PROTECT, related_name="order_lines"
    )
    product_name = models.CharField(_("product"), max_length=200)
    interval = models.CharField(_("billing interval"), max_length=8)
    from_seats = models.PositiveIntegerField(_("from licenses"))
    to_seats = models.PositiveIntegerField(_("to licenses"))
    unit_price = _money(_("price per license"))
    period_start = models.DateTimeField(_("previous period start"))
    period_end = models.DateTimeField(_("previous period end"))
    new_period_start = models.DateTimeField(_("new period start"))
    new_period_end = models.DateTimeField(_("new period end"))
    credit = _money(_("credit for unused time"))
    charge = _money(_("charge"))
    subtotal = _money(_("subtotal"))
    tax = _money(_("VAT"))
    total = _money(_("total"))
    # Account credit and the amount due belong to the whole order (Order), not a line.

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.product_name}: {self.from_seats} → {self.to_seats}"


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
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
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
        verbose_name = _("Stripe event")
        verbose_name_plural = _("Stripe events")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
