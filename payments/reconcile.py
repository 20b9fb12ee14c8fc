"""The sweep that closes payment attempts a crash, a timeout or an abandoned tab left open.

It asks the gateway what happened to each and never starts a charge. Money the
gateway took without an order is handed, through ``payment_taken``, to the app
that owns the attempt (the checkout writes the order or gives the money back);
renewal attempts are left to the renewal run, which replays them with their
own key.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction

from payments.attempts import AUTHENTICATION_GRACE, PAYMENT_CLAIM, REVIEW_VALID_FOR
from payments.closing import payment_abandon_or_leave_open, payment_release, unused_card_forget
from payments.gateways import (
    FAILED,
    PENDING,
    GatewayRefused,
    GatewayUnavailable,
    PaymentGateway,
    get_gateway,
)
from payments.models import RENEWAL_TOKEN_PREFIX, Payment
from payments.signals import TAKEN_OUTCOMES, payment_taken
from subscriptions import clock

logger = logging.getLogger(__name__)


def payments_reconcile(
    *, older_than: timedelta = timedelta(minutes=10), gateway: PaymentGateway | None = None
) -> dict[str, int]:
    """Close what a crash, a timeout or an abandoned tab left open, by asking the gateway.

    - an attempt the gateway reports paid, without an order: the order is
      placed if its review still holds, otherwise the money is refunded;
    - an attempt that never took money: canceled (at the gateway too);
    - an authentication never finished in time: canceled.
    Never starts a charge. Safe to run twice at once (row locks, skip locked).
    """
    gateway = gateway or get_gateway()
    now = clock.now()
    counts = {"placed": 0, "refunded": 0, "canceled": 0, "failed": 0, "left": 0}
    open_ids = list(
        Payment.objects.filter(
            order__isnull=True,
            status__in=[
                Payment.Status.PROCESSING,
                Payment.Status.SUCCEEDED,
                Payment.Status.REQUIRES_ACTION,
            ],
            updated_at__lt=now - older_than,
        )
        .exclude(claimed_until__gt=now)
        # Renewal attempts are the renewal run's: it replays them with their own key.
        .exclude(checkout_token__startswith=RENEWAL_TOKEN_PREFIX)
        .values_list("pk", flat=True)
    )
    for payment_id in open_ids:
        with transaction.atomic():
            payment = (
                Payment.objects.select_for_update(skip_locked=True)
                .filter(pk=payment_id, order__isnull=True)
                .exclude(claimed_until__gt=now)
                .first()
            )
            if payment is None:
                continue
            payment.claimed_until = now + PAYMENT_CLAIM
            payment.save(update_fields=["claimed_until", "updated_at"])
        try:
            known = gateway.retrieve(payment=payment) if payment.reference else None
        except (GatewayUnavailable, GatewayRefused):
            payment_release(payment=payment)
            counts["left"] += 1
            continue
        if known is not None and known.succeeded:
            payment.status = Payment.Status.SUCCEEDED
            Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.SUCCEEDED)
            counts[_taken_outcome(payment, gateway)] += 1
            continue
        if known is not None and known.status == FAILED:
            Payment.objects.filter(pk=payment.pk).update(
                status=Payment.Status.FAILED,
                failure_reason=known.failure_reason,
                claimed_until=None,
            )
            unused_card_forget(payment)
            counts["failed"] += 1
            continue
        if known is not None and known.status == PENDING:
            payment_release(payment=payment)
            counts["left"] += 1
            continue
        if (
            payment.status == Payment.Status.REQUIRES_ACTION
            and payment.quoted_at > now - REVIEW_VALID_FOR - AUTHENTICATION_GRACE
        ):
            payment_release(payment=payment)  # the admin may still finish the bank's step
            counts["left"] += 1
            continue
        payment_abandon_or_leave_open(payment=payment, gateway=gateway)
        counts["canceled"] += 1
    return counts


def _taken_outcome(payment: Payment, gateway: PaymentGateway) -> str:
    """What the attempt's owner did with money taken: placed, refunded or left."""
    for _receiver, outcome in payment_taken.send_robust(
        sender=Payment, payment=payment, gateway=gateway
    ):
        if isinstance(outcome, Exception):
            logger.error("Payment %s: completing it failed", payment.pk, exc_info=outcome)
            return "left"
        if outcome in TAKEN_OUTCOMES:
            return outcome
    return "left"
