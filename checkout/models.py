"""The checkout: the cart, its lines, and the orders placed from it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from subscriptions.models import Account


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
