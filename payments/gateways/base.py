"""What every gateway shares: the interface, its results and errors, minor units."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from moneyed import Money

from subscriptions.money import minor_unit_places

if TYPE_CHECKING:
    from payments.models import Payment


SUCCEEDED = "succeeded"
FAILED = "failed"
REQUIRES_ACTION = "requires_action"
REQUIRES_CONFIRMATION = "requires_confirmation"
# Still in flight at the gateway (an async method, or a bank step not finished):
# neither paid nor failed, so the attempt stays open.
PENDING = "pending"
# Stripe's decline of an off-session charge whose bank wants the customer to authenticate.
AUTHENTICATION_REQUIRED = "authentication_required"


class GatewayRefused(Exception):
    """The gateway refused the request itself (4xx): not a decline, not a network failure."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


class GatewayUnavailable(Exception):
    """The gateway did not answer (timeout, connection refused, 5xx after retries)."""


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
class StripeCardSetup:
    """A card Stripe.js saved in the browser on a SetupIntent of the account's customer.

    What the Stripe gateway's ``save_card`` takes instead of ``CardDetails``: the
    SetupIntent's id and what Stripe reported about its card, checked by
    ``StripeGateway.card_setup`` before any lock is taken. No card number, ever.
    """

    setup_intent: str
    card: SavedCard


@dataclass(frozen=True)
class ChargeResult:
    status: str
    reference: str = ""
    failure_reason: str = ""
    client_secret: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED


class PaymentGateway(Protocol):
    name: str
    # True when ``prepare`` asks no one: its reference is a function of the payment's
    # idempotency key, so it can be written with the attempt itself. A gateway that
    # registers payments remotely is asked only after the attempt is committed.
    prepares_locally: bool

    def prepare(self, *, payment: Payment) -> str: ...

    def confirm(self, *, payment: Payment) -> ChargeResult: ...

    def retrieve(self, *, payment: Payment) -> ChargeResult: ...

    def refund(self, *, payment: Payment) -> None: ...


def to_minor_units(amount: Money) -> int:
    """The integer the gateway wants: €274.89 → 27489, ¥9301 → 9301."""
    places = minor_unit_places(amount.currency)
    value = amount.amount.scaleb(places)
    if value != value.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of minor units.")
    return int(value)


def from_minor_units(value: int, currency: str) -> Money:
    return Money(Decimal(value).scaleb(-minor_unit_places(currency)), currency.upper())
