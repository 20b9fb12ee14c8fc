"""The sandbox gateway: no real money; test card numbers choose the outcome."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from payments.gateways.base import (
    FAILED,
    REQUIRES_ACTION,
    REQUIRES_CONFIRMATION,
    SUCCEEDED,
    CardDetails,
    ChargeResult,
    GatewayRefused,
    SavedCard,
)
from payments.models import PaymentMethod

if TYPE_CHECKING:
    from payments.models import Payment

logger = logging.getLogger(__name__)


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
    prepares_locally = True
    DECLINED_LAST4 = "0002"
    AUTHENTICATION_LAST4 = "3155"

    def save_card(self, *, card: CardDetails) -> SavedCard:
        if not isinstance(card, CardDetails):
            raise GatewayRefused("card_details_required", "The sandbox takes typed card details.")
        return SavedCard(
            reference=f"sandbox_pm_{uuid.uuid4().hex}",
            brand=card_brand(card.number),
            last4=card.number[-4:],
            exp_month=card.exp_month,
            exp_year=card.exp_year,
        )

    def prepare(self, *, payment: Payment) -> str:
        return f"sandbox_pi_{uuid.uuid5(uuid.NAMESPACE_URL, payment.idempotency_key).hex}"

    def confirm(self, *, payment: Payment) -> ChargeResult:
        method = payment.payment_method
        at = payment.created_at
        if method is None:
            return ChargeResult(FAILED, payment.reference, "payment_method_missing")
        if (method.exp_year, method.exp_month) < (at.year, at.month):
            return ChargeResult(FAILED, payment.reference, "expired_card")
        if method.last4 == self.DECLINED_LAST4:
            return ChargeResult(FAILED, payment.reference, "card_declined")
        if method.last4 == self.AUTHENTICATION_LAST4:
            return ChargeResult(
                REQUIRES_ACTION, payment.reference, client_secret=f"{payment.reference}_secret"
            )
        return ChargeResult(SUCCEEDED, payment.reference)

    def retrieve(self, *, payment: Payment) -> ChargeResult:
        # The sandbox keeps no state of its own: our row is what it "knows".
        status = {"processing": REQUIRES_CONFIRMATION}.get(payment.status, payment.status)
        return ChargeResult(status, payment.reference, payment.failure_reason)

    def authenticate(self, *, payment: Payment, success: bool) -> ChargeResult:
        """The sandbox's stand-in for the bank's authentication page."""
        if success:
            return ChargeResult(SUCCEEDED, payment.reference)
        return ChargeResult(FAILED, payment.reference, "authentication_failed")

    def refund(self, *, payment: Payment) -> None:
        logger.info("Sandbox refund of %s for %s", payment.amount, payment.reference)

    def cancel(self, *, payment: Payment) -> None:
        logger.info("Sandbox cancel of %s", payment.reference)

    def charge_off_session(self, *, payment: Payment) -> ChargeResult:
        """Charge the card on file while nobody is at the screen (a renewal).

        The same outcomes as ``confirm``; the reference is the one ``prepare``
        would give, so a repeated call for the same payment names the same charge.
        """
        result = self.confirm(payment=payment)
        reference = result.reference or self.prepare(payment=payment)
        return ChargeResult(result.status, reference, result.failure_reason, result.client_secret)
