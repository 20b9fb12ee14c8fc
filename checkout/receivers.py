"""The checkout's answers to what the payments app reports."""

from __future__ import annotations

import logging

from django.dispatch import receiver

from checkout.errors import ReviewOutdated
from checkout.services import CheckoutError, payment_complete
from payments.gateways import PaymentGateway
from payments.models import Payment
from payments.signals import LEFT, PLACED, REFUNDED, payment_taken

logger = logging.getLogger(__name__)


@receiver(payment_taken, dispatch_uid="checkout.order_from_payment_taken")
def order_from_payment_taken(
    sender, payment: Payment, gateway: PaymentGateway | None = None, **kwargs
) -> str | None:
    """Place the order of a Place order attempt whose money was reported taken:
    if its review still holds it is placed, else the money is given back."""
    if payment.is_renewal:
        return None
    try:
        payment_complete(payment=payment, gateway=gateway)
    except ReviewOutdated:
        return REFUNDED
    except CheckoutError as error:
        logger.warning("Payment %s could not complete its order: %s", payment.pk, error)
        return LEFT
    return PLACED
