"""The admin's return from the bank's authentication: finish the order or say why not.

(The sweep that closes attempts a crash or an abandoned tab left open is the
payments app's, ``payments/reconcile.py``.)
"""

from __future__ import annotations

from django.db import transaction

from checkout.errors import PaymentFailed, PaymentRequiresAction
from checkout.models import Order
from checkout.services import AUTHENTICATION_FAILED, PAYMENT_CLAIM, payment_complete
from payments.closing import unused_card_forget
from payments.gateways import PENDING, REQUIRES_ACTION, ChargeResult, PaymentGateway
from payments.models import Payment
from subscriptions import clock
from subscriptions.models import Account


def payment_authenticated(
    *, payment: Payment, result: ChargeResult, gateway: PaymentGateway | None = None
) -> Order:
    """The admin came back from authenticating ``payment``: finish the order or say why not."""
    with transaction.atomic():
        Account.objects.select_for_update().get(pk=payment.account_id)
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.order_id:
            return payment.order
        if payment.status == Payment.Status.SUCCEEDED:
            # A webhook got here first: the money is taken; finish the order (idempotent).
            return_early = False
        elif payment.status != Payment.Status.REQUIRES_ACTION:
            raise PaymentFailed(payment.failure_reason or AUTHENTICATION_FAILED)
        elif result.status in (REQUIRES_ACTION, PENDING):
            # The bank's step is not finished: keep waiting, change nothing.
            raise PaymentRequiresAction(payment)
        else:
            return_early = not result.succeeded
            payment.status = Payment.Status.SUCCEEDED if result.succeeded else Payment.Status.FAILED
            payment.failure_reason = "" if result.succeeded else result.failure_reason
            payment.claimed_until = clock.now() + PAYMENT_CLAIM if result.succeeded else None
            payment.save(update_fields=["status", "failure_reason", "claimed_until", "updated_at"])
            if return_early:
                unused_card_forget(payment)
    if return_early:
        raise PaymentFailed(payment.failure_reason)
    return payment_complete(payment=payment, gateway=gateway)
