"""Finishing what Place order left open: the sweep that asks the gateway about
attempts a crash, a timeout or an abandoned tab left, and the admin's return
from the bank's authentication."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction

from checkout.errors import (
    CheckoutError,
    PaymentFailed,
    PaymentRequiresAction,
    ReviewOutdated,
)
from checkout.models import Order
from checkout.services import (
    AUTHENTICATION_FAILED,
    AUTHENTICATION_GRACE,
    PAYMENT_CLAIM,
    REVIEW_VALID_FOR,
    payment_complete,
)
from payments.closing import (
    payment_abandon_or_leave_open,
    payment_release,
    unused_card_forget,
)
from payments.gateways import (
    FAILED,
    PENDING,
    REQUIRES_ACTION,
    ChargeResult,
    GatewayRefused,
    GatewayUnavailable,
    PaymentGateway,
    get_gateway,
)
from payments.models import RENEWAL_TOKEN_PREFIX, Payment
from subscriptions import clock
from subscriptions.models import Account

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
            try:
                payment_complete(payment=payment, gateway=gateway)
                counts["placed"] += 1
            except ReviewOutdated:
                counts["refunded"] += 1
            except CheckoutError:
                counts["left"] += 1
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
        auth_window = REVIEW_VALID_FOR + AUTHENTICATION_GRACE
        if (
            payment.status == Payment.Status.REQUIRES_ACTION
            and payment.quoted_at > now - auth_window
        ):
            payment_release(payment=payment)  # the admin may still finish the bank's step
            counts["left"] += 1
            continue
        payment_abandon_or_leave_open(payment=payment, gateway=gateway)
        counts["canceled"] += 1
    return counts


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
