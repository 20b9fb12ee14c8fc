"""The renewals' answers to what the payments app reports."""

from __future__ import annotations

import logging

from django.dispatch import receiver

from payments.gateways import SUCCEEDED, ChargeResult
from payments.models import Payment
from payments.signals import LEFT, PLACED, payment_taken
from renewals.payments import RenewalPaymentError, renewal_payment_complete

logger = logging.getLogger(__name__)


@receiver(payment_taken, dispatch_uid="renewals.renewal_from_payment_taken")
def renewal_from_payment_taken(sender, payment: Payment, **kwargs) -> str | None:
    """Record the renewal of a payment its customer authenticated (and may have left)."""
    if not payment.is_renewal:
        return None
    try:
        renewal_payment_complete(payment=payment, result=ChargeResult(SUCCEEDED, payment.reference))
    except RenewalPaymentError as error:
        logger.warning("Renewal payment %s could not be recorded: %s", payment.pk, error)
        return LEFT
    return PLACED
