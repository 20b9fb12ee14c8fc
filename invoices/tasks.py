"""Sending an invoice again, after the request that asked for it committed."""

from __future__ import annotations

import smtplib

from celery import shared_task

from invoices.emails import invoice_email_send
from invoices.models import Invoice


@shared_task(
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=True,
    max_retries=5,
)
def send_invoice_email(invoice_id: int) -> int:
    """Email the invoice to the account's billing admins; how many emails went."""
    invoice = (
        Invoice.objects.select_related("order", "corrects", "account").filter(pk=invoice_id).first()
    )
    if invoice is None:
        return 0
    return invoice_email_send(invoice=invoice)
