"""What is sold: products, their plans, and each country's VAT rate."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField
from djmoney.models.validators import MinMoneyValidator

from subscriptions.models.accounts import validate_country_code


class Product(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Plan(models.Model):
    """How a product is sold: per seat, per interval, in one currency."""

    class Interval(models.TextChoices):
        MONTH = "month", _("Monthly")
        YEAR = "year", _("Yearly")

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="plans")
    interval = models.CharField(_("billing interval"), max_length=8, choices=Interval.choices)
    price = MoneyField(
        _("price per license per interval"),
        max_digits=12,
        decimal_places=2,
        validators=[MinMoneyValidator(Decimal("0"))],  # Money-aware: compares the amount
    )
    min_seats = models.PositiveIntegerField(
        _("minimum licenses"), default=1, validators=[MinValueValidator(1)]
    )
    max_seats = models.PositiveIntegerField(
        _("maximum licenses"), default=10_000, validators=[MaxValueValidator(1_000_000)]
    )
    trial_days = models.PositiveIntegerField(_("free trial days"), default=30)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["product__name", "interval"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "interval", "price_currency"],
                name="plan_one_per_product_interval_currency",
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="plan_price_not_negative"),
            models.CheckConstraint(
                condition=Q(interval__in=["month", "year"]), name="plan_interval_known"
            ),
            models.CheckConstraint(condition=Q(min_seats__gte=1), name="plan_min_seats_at_least_1"),
            models.CheckConstraint(
                condition=Q(max_seats__gte=models.F("min_seats")),
                name="plan_max_seats_not_below_min",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} – {self.get_interval_display()} ({self.price_currency})"


class TaxRate(models.Model):
    """A country's standard VAT rate, in percent; staff keep it current."""

    country = models.CharField(
        _("country"), max_length=2, unique=True, validators=[validate_country_code]
    )
    rate = models.DecimalField(
        _("standard rate (%)"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("tax rate")
        verbose_name_plural = _("tax rates")
        ordering = ["country"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lte=100), name="tax_rate_between_0_and_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country}: {self.rate} %"
