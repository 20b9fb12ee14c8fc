"""The Invoices page of the Billing Center and its downloads (PDF, XML)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from invoices.einvoice import invoice_xml
from invoices.pdf import invoice_pdf
from invoices.selectors import account_invoice, account_invoices
from subscriptions.access import billing_admin_required


@billing_admin_required
@require_GET
def invoice_list(request: HttpRequest) -> HttpResponse:
    invoices = account_invoices(account=request.account)
    return render(request, "invoices/list.html", {"invoices": invoices})


@require_GET
def _download(request: HttpRequest, render, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(render(), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# The number first: another account's invoice is not found, whatever the method.


@billing_admin_required
def invoice_pdf_download(request: HttpRequest, number: str) -> HttpResponse:
    invoice = account_invoice(account=request.account, number=number)
    return _download(
        request, lambda: invoice_pdf(invoice), f"{invoice.filename_stem}.pdf", "application/pdf"
    )


@billing_admin_required
def invoice_xml_download(request: HttpRequest, number: str) -> HttpResponse:
    invoice = account_invoice(account=request.account, number=number)
    return _download(
        request,
        lambda: invoice_xml(invoice),
        f"{invoice.filename_stem}-factur-x.xml",
        "application/xml",
    )
