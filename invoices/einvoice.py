"""The structured invoice: Factur-X / ZUGFeRD, profile EN 16931 (CII XML).

Amounts are the order's stored ones, written as they are (two decimals). A
credit note (type 381) states them with the opposite sign, as the standard
wants: the order's −€100.00 is a credit note of 100.00. The XML is checked
against the XSD the ``factur-x`` package ships before it is handed out.
"""

from __future__ import annotations

import zoneinfo
from datetime import timedelta
from decimal import Decimal

import facturx
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from invoices.documents import InvoiceDocument, invoice_document
from invoices.models import Invoice
from subscriptions.templatetags.billing import money_text
from subscriptions.vat import OUTSIDE_EU, REVERSE_CHARGE

# VAT category (UNTDID 5305) and exemption reason code (VATEX) of each tax treatment
# (docs/billing-rules.md, "Tax"): standard rate at home or in the customer's country
# (S), intra-EU reverse charge (AE), a service to a customer outside the EU (G).
TAX_CATEGORIES = {
    REVERSE_CHARGE: ("AE", "VATEX-EU-AE"),
    OUTSIDE_EU: ("G", "VATEX-EU-G"),
}


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def xml_context(doc: InvoiceDocument) -> dict:
    """The XML's values, in the invoice's language for its free texts."""
    invoice, order, sign = doc.invoice, doc.order, doc.sign
    category, exemption_code = TAX_CATEGORIES.get(order.tax_kind, ("S", ""))
    zone = zoneinfo.ZoneInfo(doc.account_time_zone)
    lines = []
    for line in doc.lines:
        net = sign * line.subtotal.amount
        # The item price may not be negative: a line that credits more than it charges
        # is one unit of minus one.
        lines.append(
            {
                "name": line.product_name,
                "description": _("%(old)s → %(new)s licenses at %(price)s per license")
                % {
                    "old": line.from_seats,
                    "new": line.to_seats,
                    "price": money_text(line.unit_price),
                },
                "quantity": "-1" if net < 0 else "1",
                "price": _amount(abs(net)),
                "net": _amount(net),
                "start": line.new_period_start.astimezone(zone).date(),
                # A period ends at the instant the next starts: its last day is the day before.
                "end": (line.new_period_end - timedelta(microseconds=1)).astimezone(zone).date(),
            }
        )
    gross = sign * invoice.gross.amount
    # Settled when the order was placed: paid (card and account credit) or, for a
    # credit note, credited to the account's balance.
    if invoice.is_credit_note:
        prepaid = order.credit_added.amount
    else:
        prepaid = order.credit_applied.amount + order.amount_due.amount
    notes = []
    if doc.is_reverse_charge:
        notes.append(_("Reverse charge: the recipient of the service is liable for the VAT."))
    exemption = ""
    if category == "AE":
        exemption = _("Reverse charge")
    elif category == "G":
        exemption = _("Service to a customer outside the EU, not taxable in Germany")
    corrects = invoice.corrects
    return {
        "doc": doc,
        "invoice": invoice,
        "order": order,
        "lines": lines,
        "notes": notes,
        "currency": invoice.gross.currency.code,
        "tax": {
            "category": category,
            "rate": _amount(order.tax_rate),
            "exemption": exemption,
            "exemption_code": exemption_code,
        },
        "totals": {
            "net": _amount(sign * invoice.net.amount),
            "tax": _amount(sign * invoice.tax.amount),
            "gross": _amount(gross),
            "prepaid": _amount(prepaid),
            "due": _amount(gross - prepaid),
        },
        "payment_terms": _("Paid when the order was placed (order %(number)s).")
        % {"number": order.number},
        "corrects": corrects,
        "corrects_date": corrects.issue_date if corrects else None,
    }


def invoice_xml(invoice: Invoice, *, doc: InvoiceDocument | None = None) -> bytes:
    """The invoice's Factur-X XML (EN 16931), checked against the schema."""
    doc = doc or invoice_document(invoice)
    with translation.override(invoice.language):
        text = render_to_string("invoices/factur-x.xml", xml_context(doc))
    xml = text.strip().encode("utf-8")
    facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    return xml
