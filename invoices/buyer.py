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
    """The buyer as the invoice states it, copied onto the invoice at issue time.

    For now the account's name, country and VAT number, and no street address;
    the billing profile's company name and billing address replace them here.
    """
    return Buyer(
        name=account.name,
        address="",
        country=account.country,
        vat_number=account.vat_number,
    )
