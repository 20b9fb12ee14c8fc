"""What an invoice document says, read from the invoice row, its order and the order's lines.

The PDF (``invoices.pdf``) and the Factur-X XML (``invoices.einvoice``) are both
rendered from this, on demand: every part of it was stored when the order was
placed and never changes, so an invoice renders the same every time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from checkout.models import Order, OrderLine
from invoices.models import Invoice
from invoices.seller import seller
from subscriptions.vat import OUTSIDE_EU, REVERSE_CHARGE

POSTCODE_AND_CITY = re.compile(r"^(?P<postcode>[A-Z]{0,2}-?\d[\d\w -]{1,9}?)\s+(?P<city>\D.*)$")


@dataclass(frozen=True)
class Address:
    """A postal address as the Factur-X XML wants it: street, postcode, city, country."""

    street: str
    more: str
    postcode: str
    city: str
    country: str


def address_parts(text: str, country: str) -> Address:
    """Split an address text ("Musterstraße 1\\n10115 Berlin"): the last line is postcode
    and city when it starts with a postcode, the lines before are the street."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    postcode = city = ""
    if lines and (match := POSTCODE_AND_CITY.match(lines[-1])):
        postcode, city = match["postcode"], match["city"]
        lines = lines[:-1]
    elif lines and len(lines) > 1:
        city = lines.pop()
    return Address(
        street=lines[0] if lines else "",
        more=", ".join(lines[1:]),
        postcode=postcode,
        city=city,
        country=country,
    )


@dataclass(frozen=True)
class InvoiceDocument:
    invoice: Invoice
    order: Order
    lines: list[OrderLine]
    issue_date: date
    period_start: date
    period_end: date  # the last day of the service period
    seller_address: Address
    buyer_address: Address
    seller_email: str
    time_zone: str  # the seller's: the invoice date
    account_time_zone: str  # the account's: the lines' periods

    @property
    def sign(self) -> int:
        """Credit notes state their amounts as positive numbers in the XML."""
        return -1 if self.invoice.is_credit_note else 1

    @property
    def is_reverse_charge(self) -> bool:
        return self.order.tax_kind == REVERSE_CHARGE

    @property
    def is_outside_eu(self) -> bool:
        return self.order.tax_kind == OUTSIDE_EU


def invoice_document(invoice: Invoice) -> InvoiceDocument:
    """Load what the invoice shows: its order (unless selected with it) and the lines."""
    order = invoice.order
    lines = list(OrderLine.objects.filter(order_id=order.pk).order_by("id"))
    return InvoiceDocument(
        invoice=invoice,
        order=order,
        lines=lines,
        issue_date=invoice.issue_date,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        seller_address=address_parts(invoice.seller_address, invoice.seller_country),
        buyer_address=address_parts(invoice.buyer_address, invoice.buyer_country),
        seller_email=seller().email,
        time_zone=seller().time_zone,
        account_time_zone=invoice.account.time_zone,
    )
