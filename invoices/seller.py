"""The seller on every invoice, from settings (docs/operations.md, "Invoices").

Each value may be set in settings (or the environment, through settings);
the defaults are a demo company. What an invoice shows is copied onto it when
it is issued, so a later change applies to later invoices only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.conf import settings

DEFAULTS = {
    "SELLER_NAME": "Billing Center Demo GmbH",
    "SELLER_ADDRESS": "Musterstraße 1\n10115 Berlin",
    "SELLER_VAT_ID": "DE136695976",
    "SELLER_TAX_NUMBER": "",
    "SELLER_EMAIL": "billing@example.com",
    "SELLER_TIME_ZONE": "Europe/Berlin",
}


def _setting(name: str) -> str:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, DEFAULTS[name])
    return str(value).replace("\\n", "\n")


@dataclass(frozen=True)
class Seller:
    name: str
    address: str
    country: str
    vat_id: str
    tax_number: str
    email: str
    time_zone: str


def seller() -> Seller:
    return Seller(
        name=_setting("SELLER_NAME"),
        address=_setting("SELLER_ADDRESS"),
        country=settings.SELLER_COUNTRY,
        vat_id=_setting("SELLER_VAT_ID"),
        tax_number=_setting("SELLER_TAX_NUMBER"),
        email=_setting("SELLER_EMAIL"),
        time_zone=_setting("SELLER_TIME_ZONE"),
    )
