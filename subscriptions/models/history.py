"""Rows of history, written once and never edited.

The append-only base (also used by seat changes), the credit ledger (an
account's balance is the sum of its entries) and the audit log.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from djmoney.models.fields import MoneyField

from subscriptions.models.accounts import Account, User


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk updates and deletes would rewrite history; they are refused too."""

    def update(self, **kwargs):
        raise ValidationError(f"{self.model._meta.verbose_name} is history and cannot be changed.")

    def delete(self):
        raise ValidationError(f"{self.model._meta.verbose_name} is history and cannot be deleted.")


class AppendOnlyModel(models.Model):
    """A row of history: written once, never changed or deleted through the ORM.

    PostgreSQL enforces the same with a trigger (migration 0003), so raw SQL
    cannot rewrite it either.
    """

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValidationError(f"{self._meta.verbose_name} is history and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(f"{self._meta.verbose_name} is history and cannot be deleted.")


class CreditLedgerEntry(AppendOnlyModel):
    """One movement of an account's credit balance; the balance is their sum.

    Positive amounts add credit (unused time of a seat reduction, a goodwill
    credit), negative ones use it (credit applied to an order).
    """

    class Reason(models.TextChoices):
        SEAT_CHANGE_CREDIT = "seat_change_credit", _("Credit from a seat change")
        APPLIED_TO_ORDER = "applied_to_order", _("Applied to an order")
        GOODWILL = "goodwill", _("Goodwill credit")
        CORRECTION = "correction", _("Correction")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="ledger_entries")
    amount = MoneyField(_("amount"), max_digits=14, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("credit ledger entry")
        verbose_name_plural = _("credit ledger entries")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_not_zero"),
            models.CheckConstraint(
                condition=Q(
                    reason__in=["seat_change_credit", "applied_to_order", "goodwill", "correction"]
                ),
                name="ledger_entry_reason_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.get_reason_display()} ({self.account})"


class AuditEntry(AppendOnlyModel):
    """Who changed what on an account, when, before → after, and through which channel.

    Every change writes one, whoever makes it: the billing admin in the portal,
    support in the admin (with the reason they must give), operations through a
    command or a scheduled task. Write them with ``subscriptions.activity``.
    """

    class Channel(models.TextChoices):
        PORTAL = "portal", _("Billing Center")
        ADMIN = "admin", _("Support")
        OPERATIONS = "operations", _("Operations")
        SYSTEM = "system", _("Automatic")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="audit_entries")
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(_("action"), max_length=64)
    channel = models.CharField(
        _("channel"), max_length=16, choices=Channel.choices, default=Channel.ADMIN
    )
    target = models.CharField(_("target"), max_length=200, blank=True)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-at", "-id"]
        constraints = [
            # Support must say why; a billing admin's own change needs no reason.
            models.CheckConstraint(
                condition=~Q(channel="admin") | ~Q(reason=""), name="audit_entry_has_a_reason"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["portal", "admin", "operations", "system"]),
                name="audit_entry_channel_known",
            ),
        ]
        indexes = [models.Index(fields=["account", "-at", "-id"], name="audit_entry_account_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor}: {self.action} {self.target}"
