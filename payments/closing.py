"""Closing a payment attempt that placed nothing: released, canceled or refunded.

The gateway is asked first, never under a lock; what cannot be closed now
stays open for the reconciliation sweep (``payments_reconcile``).
"""

from __future__ import annotations

import logging

from django.db import transaction

from payments.gateways import (
    PENDING,
    REQUIRES_ACTION,
    REQUIRES_CONFIRMATION,
    GatewayRefused,
    GatewayUnavailable,
    PaymentGateway,
    get_gateway,
)
from payments.models import Payment, PaymentMethod

logger = logging.getLogger(__name__)


def unused_card_forget(payment: Payment) -> None:
    """A card typed in for this payment is not kept when the payment ends without an
    order (declined, canceled, authentication failed, review outdated): nothing changed.

    Only a card entered at checkout that has not paid is forgotten; a payment it is
    still open for keeps it. A former card on file is never forgotten here.
    """
    method = payment.payment_method
    if (
        method is not None
        and method.entered_at_checkout
        and not method.is_default
        and not method.payments.filter(
            status__in=[
                Payment.Status.SUCCEEDED,
                Payment.Status.PROCESSING,
                Payment.Status.REQUIRES_ACTION,
            ]
        ).exists()
    ):
        method.delete()
        if method.gateway == PaymentMethod.Gateway.STRIPE:
            # Stripe.js attached it to the customer when it was set up: detach it there
            # too, once this transaction has committed (never a network call under lock).
            reference = method.gateway_reference
            transaction.on_commit(lambda: card_detach(reference), robust=True)


def card_detach(reference: str) -> None:
    gateway = get_gateway()
    if hasattr(gateway, "card_detach"):
        gateway.card_detach(reference=reference)


def payment_release(*, payment: Payment) -> None:
    Payment.objects.filter(pk=payment.pk).update(claimed_until=None)


def payment_abandon(*, payment: Payment, gateway: PaymentGateway) -> None:
    """The review no longer holds: give back what was taken, close the attempt.

    The gateway is asked first: an attempt we think unpaid may have gone
    through (a lost answer). Money taken is refunded; an open payment is
    canceled at the gateway so it never can take money. If the gateway does
    not answer, the attempt stays open for the reconciliation sweep.
    """
    if payment.reference and payment.status != Payment.Status.SUCCEEDED:
        known = gateway.retrieve(payment=payment)
        if known.succeeded:
            payment.status = Payment.Status.SUCCEEDED
        elif known.status in (REQUIRES_CONFIRMATION, REQUIRES_ACTION):
            gateway.cancel(payment=payment)
        elif known.status == PENDING:
            payment_release(payment=payment)
            return
    if payment.status == Payment.Status.SUCCEEDED:
        gateway.refund(payment=payment)
        status = Payment.Status.REFUNDED
    else:
        status = Payment.Status.CANCELED
    Payment.objects.filter(pk=payment.pk).update(status=status, claimed_until=None)
    unused_card_forget(payment)


def payment_abandon_or_leave_open(*, payment: Payment, gateway: PaymentGateway) -> None:
    try:
        payment_abandon(payment=payment, gateway=gateway)
    except (GatewayUnavailable, GatewayRefused) as error:
        # Could not refund or cancel now: the attempt stays open for the sweep.
        logger.error("Payment %s could not be closed (%s); left for the sweep", payment.pk, error)
        payment_release(payment=payment)
