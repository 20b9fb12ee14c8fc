"""Payment gateways: one small interface, chosen by settings.

The sandbox (the default, and what `make run` uses) behaves like Stripe's
test cards: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined,
4000 0025 0000 3155 asks for authentication. It keeps only brand, last four
digits and expiry; the card number and CVC never leave the request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from moneyed import Money

from checkout.models import PaymentMethod

SUCCEEDED = "succeeded"
FAILED = "failed"
REQUIRES_ACTION = "requires_action"


@dataclass(frozen=True, repr=False)
class CardDetails:
    """Card data as typed into the sandbox form. Never stored, never logged."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str

    def __repr__(self) -> str:  # keep the number and CVC out of tracebacks and logs
        return f"CardDetails(last4={self.number[-4:]}, exp={self.exp_month:02d}/{self.exp_year})"


@dataclass(frozen=True)
class SavedCard:
    reference: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class ChargeResult:
    status: str
    reference: str = ""
    failure_reason: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED


class PaymentGateway(Protocol):
    name: str

    def save_card(self, *, card: CardDetails) -> SavedCard: ...

    def charge(
        self,
        *,
        payment_method: PaymentMethod,
        amount: Money,
        idempotency_key: str,
        at: datetime,
    ) -> ChargeResult: ...


def card_brand(number: str) -> str:
    if number.startswith("4"):
        return "Visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "Mastercard"
    if number[:2] in {"34", "37"}:
        return "American Express"
    return "Card"


class SandboxGateway:
    """Takes no real money. The card's last four digits choose the outcome."""

    name = PaymentMethod.Gateway.SANDBOX
    DECLINED_LAST4 = "0002"
    AUTHENTICATION_LAST4 = "3155"

    def save_card(self, *, card: CardDetails) -> SavedCard:
        return SavedCard(
            reference=f"sandbox_pm_{uuid.uuid4().hex}",
            brand=card_brand(card.number),
            last4=card.number[-4:],
            exp_month=card.exp_month,
            exp_year=card.exp_year,
        )

    def charge(
        self,
        *,
        payment_method: PaymentMethod,
        amount: Money,
        idempotency_key: str,
        at: datetime,
    ) -> ChargeResult:
        reference = f"sandbox_pi_{uuid.uuid5(uuid.NAMESPACE_URL, idempotency_key).hex}"
        if (payment_method.exp_year, payment_method.exp_month) < (at.year, at.month):
            return ChargeResult(FAILED, reference, "expired_card")
        if payment_method.last4 == self.DECLINED_LAST4:
            return ChargeResult(FAILED, reference, "card_declined")
        if payment_method.last4 == self.AUTHENTICATION_LAST4:
            return ChargeResult(REQUIRES_ACTION, reference, "authentication_required")
        return ChargeResult(SUCCEEDED, reference)


def get_gateway() -> PaymentGateway:
    if settings.PAYMENT_GATEWAY == "sandbox":
        return SandboxGateway()
    raise ImproperlyConfigured(
        f"Payment gateway {settings.PAYMENT_GATEWAY!r} is not available in this version; "
        "unset STRIPE_SECRET_KEY to use the sandbox."
    )
