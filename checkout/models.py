"""What the account pays with. Cart, orders and payments come with the checkout flow."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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
