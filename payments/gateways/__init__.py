"""Payment gateways: one small interface, two backends, chosen by settings.

A payment is taken in two steps so that no network failure can charge twice:
``prepare`` registers the payment with the gateway and returns its reference
(no money moves; the reference is committed to our ``Payment`` row at once),
``confirm`` takes the money. After a timeout, ``retrieve`` tells what the
gateway did with that reference; confirming is only ever asked for a payment
the gateway reports as not yet confirmed.

- **Sandbox** (the default, and what `make run` uses) behaves like Stripe's
  test cards: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined,
  4000 0025 0000 3155 asks for authentication. It keeps only brand, last four
  digits and expiry; the card number and CVC never leave the request. Its
  "remote" state is our own Payment row.
- **Stripe** (when ``STRIPE_SECRET_KEY`` is set) through the ``stripe``
  library, ``STRIPE_API_BASE`` pointing at Stripe or a local stand-in.
  Amounts cross this boundary as integer minor units.
"""

from __future__ import annotations

from django.conf import settings

from payments.gateways.base import (
    AUTHENTICATION_REQUIRED,
    FAILED,
    PENDING,
    REQUIRES_ACTION,
    REQUIRES_CONFIRMATION,
    SUCCEEDED,
    CardDetails,
    ChargeResult,
    GatewayRefused,
    GatewayUnavailable,
    PaymentGateway,
    SavedCard,
    StripeCardSetup,
    from_minor_units,
    to_minor_units,
)
from payments.gateways.sandbox import SandboxGateway, card_brand
from payments.gateways.stripe_gateway import StripeGateway

__all__ = [
    "AUTHENTICATION_REQUIRED",
    "FAILED",
    "PENDING",
    "REQUIRES_ACTION",
    "REQUIRES_CONFIRMATION",
    "SUCCEEDED",
    "CardDetails",
    "ChargeResult",
    "GatewayRefused",
    "GatewayUnavailable",
    "PaymentGateway",
    "SandboxGateway",
    "SavedCard",
    "StripeCardSetup",
    "StripeGateway",
    "card_brand",
    "from_minor_units",
    "get_gateway",
    "to_minor_units",
]


def get_gateway() -> PaymentGateway:
    if settings.PAYMENT_GATEWAY == "stripe":
        return StripeGateway()
    return SandboxGateway()
