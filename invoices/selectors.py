"""Reading invoices: an account's list, one of its invoices."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from invoices.models import Invoice
from subscriptions.models import Account


def account_invoices(*, account: Account) -> QuerySet[Invoice]:
    return Invoice.objects.filter(account=account).select_related("order", "account")


def account_invoice(*, account: Account, number: str) -> Invoice:
    """The account's invoice ``number``; another account's is not found (404)."""
    return get_object_or_404(
        Invoice.objects.select_related("order", "corrects", "account"),
        account=account,
        number=number,
    )


def invoices_since(*, since: datetime) -> QuerySet[Invoice]:
    return (
        Invoice.objects.filter(issued_at__gte=since)
        .select_related("order", "corrects", "account")
        .order_by("issued_at", "id")
    )
