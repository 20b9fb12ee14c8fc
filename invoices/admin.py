"""Invoices for support: read-only (an issued invoice never changes), and sent again."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from invoices.einvoice import invoice_xml
from invoices.models import Invoice
from invoices.pdf import invoice_pdf
from invoices.services import invoice_resend
from subscriptions import admin as subscriptions_admin
from subscriptions.admin_actions import ReasonForm, SupportPermissionMixin, support_action


class InvoiceResendForm(ReasonForm):
    pass


def _apply_resend(invoice: Invoice, form: InvoiceResendForm, staff) -> str:
    invoice_resend(invoice=invoice, actor=staff, reason=form.cleaned_data["reason"])
    return f"{invoice.number} is on its way again to the account's billing admins."


@admin.register(Invoice)
class InvoiceAdmin(SupportPermissionMixin, subscriptions_admin.ReadOnlyAdmin):
    list_display = ["number", "kind", "account", "issued_at", "gross", "order"]
    list_filter = ["kind", "year"]
    search_fields = ["number", "order__number", "account__name", "buyer_name"]
    readonly_fields = ["downloads"]
    list_select_related = ["account", "order"]
    actions = [
        support_action(
            description="Send the invoice again", form_class=InvoiceResendForm, apply=_apply_resend
        )
    ]

    @admin.display(description="documents")
    def downloads(self, invoice: Invoice) -> str:
        return format_html(
            '<a href="{}">PDF</a> · <a href="{}">XML</a>',
            reverse("admin:invoices_invoice_pdf", args=[invoice.pk]),
            reverse("admin:invoices_invoice_xml", args=[invoice.pk]),
        )

    def get_urls(self):
        return [
            path(
                "<int:invoice_id>/pdf/",
                self.admin_site.admin_view(self.pdf_view),
                name="invoices_invoice_pdf",
            ),
            path(
                "<int:invoice_id>/xml/",
                self.admin_site.admin_view(self.xml_view),
                name="invoices_invoice_xml",
            ),
            *super().get_urls(),
        ]

    def _invoice(self, request, invoice_id: int) -> Invoice:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(
            Invoice.objects.select_related("order", "corrects", "account"), pk=invoice_id
        )

    def pdf_view(self, request, invoice_id: int) -> HttpResponse:
        invoice = self._invoice(request, invoice_id)
        return HttpResponse(invoice_pdf(invoice), content_type="application/pdf")

    def xml_view(self, request, invoice_id: int) -> HttpResponse:
        invoice = self._invoice(request, invoice_id)
        return HttpResponse(invoice_xml(invoice), content_type="application/xml")
