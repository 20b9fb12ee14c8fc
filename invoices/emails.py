"""Sending an issued invoice again (support's re-send): to the account's billing admins."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend

from checkout.emails import email_message
from invoices.models import Invoice
from invoices.pdf import invoice_pdf
from subscriptions.models import Membership


def invoice_email_messages(*, invoice: Invoice) -> list[EmailMultiAlternatives]:
    """One email to each billing admin, in their language, the PDF attached."""
    pdf = invoice_pdf(invoice)
    admins = (
        Membership.objects.filter(account_id=invoice.account_id, role=Membership.Role.BILLING_ADMIN)
        .select_related("user")
        .order_by("pk")
    )
    messages = []
    for membership in admins:
        user = membership.user
        if not user.email:
            continue
        language = user.language or settings.LANGUAGE_CODE
        message = email_message(
            "invoices/email/invoice", {"invoice": invoice}, language, to=[user.email]
        )
        message.attach(f"{invoice.filename_stem}.pdf", pdf, "application/pdf")
        messages.append(message)
    return messages


def invoice_email_send(*, invoice: Invoice, connection: BaseEmailBackend | None = None) -> int:
    messages = invoice_email_messages(invoice=invoice)
    connection = connection or get_connection()
    return connection.send_messages(messages) or 0
