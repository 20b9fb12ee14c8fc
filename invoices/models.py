"""Invoices and credit notes: one per order that moves money, numbered without gaps.

A row is written in its order's transaction and never changed: the buyer and
the seller as they were at issue time, the number, and the order's own stored
amounts. The PDF and the Factur-X XML are rendered from the row, its order and
the order's lines (all of which never change either).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from checkout.models import Order
from subscriptions.models import Account


def _money(verbose_name: str) -> MoneyField:
    return MoneyField(verbose_name, max_digits=16, decimal_places=2, currency_max_length=3)


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice", _("Invoice")
    CREDIT_NOTE = "credit_note", _("Credit note")


class Invoice(models.Model):
    """An issued invoice (an order with a positive total) or credit note (a negative one)."""

    Kind = InvoiceKind

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    number = models.CharField(_("invoice number"), max_length=32)
    year = models.PositiveIntegerField(_("year"))
    sequence = models.PositiveIntegerField(_("sequence number"))
    issued_at = models.DateTimeField(_("issued at"))
    # The invoice date: the day of issued_at where the seller is (SELLER_TIME_ZONE).
    issue_date = models.DateField(_("invoice date"))
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="invoice")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="invoices")
    # A credit note refers to the invoice it corrects (the last one for its subscriptions).
    corrects = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_notes",
        verbose_name=_("corrects invoice"),
    )
    seller_name = models.CharField(_("seller"), max_length=200)
    seller_address = models.TextField(_("seller address"))
    seller_country = models.CharField(_("seller country"), max_length=2)
    seller_vat_id = models.CharField(_("seller VAT number"), max_length=32)
    seller_tax_number = models.CharField(_("seller tax number"), max_length=32, blank=True)
    buyer_name = models.CharField(_("buyer"), max_length=200)
    buyer_address = models.TextField(_("buyer address"), blank=True)
    buyer_country = models.CharField(_("buyer country"), max_length=2)
    buyer_vat_number = models.CharField(_("buyer VAT number"), max_length=32, blank=True)
    language = models.CharField(_("language"), max_length=8)
    # The service period's first and last day, in the account's time zone (as its order
    # page shows them).
    period_start = models.DateField(_("service period start"))
    period_end = models.DateField(_("service period end"))
    net = _money(_("net total"))
    tax = _money(_("VAT"))
    gross = _money(_("gross total"))

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="invoice_number_unique"),
            models.UniqueConstraint(
                fields=["kind", "year", "sequence"], name="invoice_sequence_unique"
            ),
            models.CheckConstraint(
                condition=Q(kind="invoice", gross__gt=0) | Q(kind="credit_note", gross__lt=0),
                name="invoice_kind_follows_sign",
            ),
        ]
        indexes = [models.Index(fields=["account", "-issued_at"], name="invoice_account_issued")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_credit_note(self) -> bool:
        return self.kind == InvoiceKind.CREDIT_NOTE

    @property
    def filename_stem(self) -> str:
        return f"{'credit-note' if self.is_credit_note else 'invoice'}-{self.number}"


class InvoiceCounter(models.Model):
    """The last number issued in one series (kind and year): locked while a number is taken,
    so numbers have no gaps (a rolled-back order rolls its number back) and no repeats."""

    kind = models.CharField(_("kind"), max_length=16, choices=InvoiceKind.choices)
    year = models.PositiveIntegerField(_("year"))
    last_number = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("invoice counter")
        verbose_name_plural = _("invoice counters")
        constraints = [
            models.UniqueConstraint(fields=["kind", "year"], name="invoice_counter_one_per_series")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.year}: {self.last_number}"
