"""Who an invoice is addressed to: the one place that reads it from the account."""

from __future__ import annotations

from dataclasses import dataclass

from subscriptions.models import Account


@dataclass(frozen=True)
class Buyer:
    name: str
    address: str
    country: str
    vat_number: str


def invoice_buyer(account: Account) -> Buyer:
    """The buyer as the invoice states it, copied onto the invoice at issue time: the
    billing profile's company name (else the account's name) and billing address
    (street lines, then "postal code city", as ``documents.address_parts`` reads it),
    the country and the VAT number."""
    town = " ".join(part for part in (account.postal_code, account.city) if part)
    lines = [account.address_line1, account.address_line2, town]
    return Buyer(
        name=account.invoice_name,
        address="\n".join(line for line in lines if line),
        country=account.country,
        vat_number=account.vat_number,
    )
