"""The invoices' answers to what the checkout reports: orders written, an email built."""

from __future__ import annotations

from django.dispatch import receiver

from checkout.models import Order
from checkout.signals import confirmation_attachments, orders_written
from invoices.models import Invoice
from invoices.pdf import invoice_pdf


@receiver(orders_written, dispatch_uid="invoices.invoices_from_orders_written")
def invoices_from_orders_written(sender, drafts, **kwargs) -> None:
    from invoices.services import invoices_issue

    invoices_issue(drafts=drafts)


@receiver(confirmation_attachments, dispatch_uid="invoices.invoice_attached_to_confirmation")
def invoice_attached_to_confirmation(
    sender, order: Order, **kwargs
) -> list[tuple[str, bytes, str]]:
    """The order's invoice or credit note as PDF (the XML is inside), if it has one."""
    invoice = (
        Invoice.objects.select_related("order", "corrects", "account").filter(order=order).first()
    )
    if invoice is None:
        return []
    return [(f"{invoice.filename_stem}.pdf", invoice_pdf(invoice), "application/pdf")]
