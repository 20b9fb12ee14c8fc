"""A renewal payment the customer finishes on the portal: the bank asked to authenticate.

An off-session renewal charge may come back asking for 3-D Secure. The run
then leaves that payment waiting (``requires_action``, with its client
secret), puts the subscription past due and emails the billing admins a link
to the renewal payment page. Whoever learns first that the bank's step
succeeded (the page, Stripe's ``payment_intent.succeeded`` webhook, or a
dunning retry of the run asking the gateway) records the renewal, through the
run's own writer (``renewal_paid_record``). All of them lock the subscription
row first and re-read the payment under it, and the order's idempotency key is
the renewal's, so the period is recorded once whatever reports it how often.

Pay now (``renewals/pay_now.py``) is the one way to pay a past-due renewal on
the portal; when the bank asks it to authenticate, its attempt waits here too,
and is completed by the same functions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from moneyed import Money

from checkout.models import Order
from payments.gateways import (
    FAILED,
    REQUIRES_ACTION,
    SUCCEEDED,
    ChargeResult,
    GatewayRefused,
    GatewayUnavailable,
    PaymentGateway,
    SandboxGateway,
    get_gateway,
)
from payments.models import Payment
from renewals.batch import credit_given_back, credit_held, renewal_order_number
from renewals.run import renewal_paid_record
from subscriptions import clock
from subscriptions.models import Subscription
from subscriptions.money import round_money
from subscriptions.proration import period_containing

logger = logging.getLogger(__name__)

AUTHENTICATION_FAILED = "authentication_failed"


class RenewalPaymentError(Exception):
    """The renewal payment was not recorded; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RenewalPaymentFailed(RenewalPaymentError):
    """The bank refused (or the customer canceled) the authentication: nothing was paid."""


class RenewalPaymentWaiting(RenewalPaymentError):
    """The bank's step is not finished: the payment keeps waiting."""


class RenewalPaymentUnrecorded(RenewalPaymentError):
    """The money was taken but the renewal no longer holds as it was quoted: it was
    given back (``refunded``), or, when the gateway did not answer, is left for staff."""

    def __init__(self, reason: str, *, refunded: bool) -> None:
        super().__init__(reason)
        self.refunded = refunded


def renewal_subscription_id(payment: Payment) -> int:
    """The subscription a renewal payment pays for (its token: ``renewal:<id>:<start>``)."""
    _, subscription_id, _ = payment.checkout_token.split(":", 2)
    return int(subscription_id)


def renewal_payment_authenticate(
    *, payment: Payment, authenticated: bool, gateway: PaymentGateway | None = None
) -> Order:
    """The customer is back from the bank's step: ask how it went, then record it.

    Sandbox: ``authenticated`` is the button the customer pressed on the
    stand-in bank page. Stripe: Stripe.js ran the bank's step in the browser,
    and Stripe is asked about the PaymentIntent (what the browser says is
    not trusted). Raises ``GatewayUnavailable`` when the gateway does not answer.
    """
    gateway = gateway or get_gateway()
    if isinstance(gateway, SandboxGateway):
        result = gateway.authenticate(payment=payment, success=authenticated)
    else:
        result = gateway.retrieve(payment=payment)
    return renewal_payment_complete(payment=payment, result=result, gateway=gateway)


def renewal_payment_complete(
    *, payment: Payment, result: ChargeResult, gateway: PaymentGateway | None = None
) -> Order:
    """Record what the bank said about a renewal payment that waited for the customer.

    Succeeded: the renewal's order (once), the next period, the dunning ended,
    the confirmation sent after commit; returns the order. Safe to call again
    and at the same time as the page, the webhook and the renewal run: a
    recorded renewal returns its order. Failed: the payment is failed, the
    credit it held goes back, the subscription stays past due and its dunning
    continues (``RenewalPaymentFailed``). Still waiting: nothing changes
    (``RenewalPaymentWaiting``).
    """
    if not payment.is_renewal:
        raise ValueError(f"payment {payment.pk} is not a renewal payment")
    gateway = gateway or get_gateway()
    failed = None
    with transaction.atomic():
        # The subscription first, as the renewal run's record step locks it.
        subscription = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("account")
            .get(pk=renewal_subscription_id(payment))
        )
        payment = (
            Payment.objects.select_for_update(of=("self",))
            .select_related("payment_method", "account")
            .get(pk=payment.pk)
        )
        if payment.order_id is not None:
            return Order.objects.get(pk=payment.order_id)
        recorded = Order.objects.filter(idempotency_key=payment.checkout_token).first()
        if recorded is not None:
            return recorded
        if payment.status not in (Payment.Status.REQUIRES_ACTION, Payment.Status.SUCCEEDED):
            # Over already (e.g. Stripe's payment_failed event came first).
            _credit_give_back(payment, subscription)
            failed = payment.failure_reason or AUTHENTICATION_FAILED
        elif payment.status == Payment.Status.REQUIRES_ACTION:
            if result.status == FAILED:
                failed = _payment_failed(payment, subscription, result.failure_reason)
            elif result.status != SUCCEEDED:
                raise RenewalPaymentWaiting(result.status or REQUIRES_ACTION)
        if failed is None:
            payment.status = Payment.Status.SUCCEEDED
            payment.failure_reason = ""
            payment.claimed_until = None
            payment.reference = result.reference or payment.reference
            order = None
            try:
                order = renewal_paid_record(
                    subscription=subscription, payment=payment, gateway=gateway
                )
            except ValueError as error:
                # The money is taken for a renewal that no longer holds as quoted (the
                # period or the price moved): the payment says so, staff take it up.
                unrecorded = str(error)
            payment.save(
                update_fields=[
                    "status",
                    "failure_reason",
                    "claimed_until",
                    "reference",
                    "order",
                    "updated_at",
                ]
            )
            if order is not None:
                return order
    if failed is None:
        refunded = _unrecorded_give_back(payment, gateway, unrecorded)
        raise RenewalPaymentUnrecorded(unrecorded, refunded=refunded)
    raise RenewalPaymentFailed(failed)


def _unrecorded_give_back(payment: Payment, gateway: PaymentGateway, why: str) -> bool:
    """The bank took money for a renewal that no longer holds (the subscription was
    canceled, or its period or price moved meanwhile): nothing is renewed, so the money
    and the credit it held go back. If the gateway does not answer, the payment stays
    succeeded without an order for staff, and the error is logged."""
    try:
        gateway.refund(payment=payment)
    except (GatewayUnavailable, GatewayRefused) as error:
        logger.error(
            "Renewal payment %s succeeded but was not recorded (%s) and could not be "
            "refunded (%s): staff must refund it",
            payment.pk,
            why,
            error,
        )
        return False
    logger.warning("Renewal payment %s not recorded (%s): refunded", payment.pk, why)
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update(of=("self",)).get(
            pk=renewal_subscription_id(payment)
        )
        Payment.objects.filter(pk=payment.pk).update(
            status=Payment.Status.REFUNDED, updated_at=clock.now()
        )
        payment.status = Payment.Status.REFUNDED
        _credit_give_back(payment, subscription)
    return True


def _payment_failed(payment: Payment, subscription: Subscription, reason: str) -> str:
    """The payment is over; the credit it held goes back. The dunning goes on as planned."""
    reason = reason or AUTHENTICATION_FAILED
    payment.status = Payment.Status.FAILED
    payment.failure_reason = reason
    payment.claimed_until = None
    payment.save(update_fields=["status", "failure_reason", "claimed_until", "updated_at"])
    _credit_give_back(payment, subscription)
    return reason


def _credit_give_back(payment: Payment, subscription: Subscription) -> None:
    """The credit a renewal's attempts still hold goes back (none twice: read from the ledger).

    Not while another attempt of the same renewal may still be paid: the credit
    is that attempt's.
    """
    still_open = (
        Payment.objects.filter(checkout_token=payment.checkout_token, order__isnull=True)
        .exclude(pk=payment.pk)
        .exclude(status__in=[Payment.Status.FAILED, Payment.Status.REFUNDED])
        .exists()
    )
    if still_open:
        return
    number = renewal_order_number(subscription.pk, _period_start(payment))
    held = credit_held([subscription.account_id], [number]).get(number, 0)
    still_held = round_money(held, subscription.account.currency)
    if still_held.amount > 0:
        credit_given_back(
            account_id=subscription.account_id, amount=still_held, reference=number, at=clock.now()
        ).save()


def _period_start(payment: Payment) -> datetime:
    """The start of the period a renewal payment pays for (the end of its token)."""
    stamp = payment.checkout_token.rsplit(":", 1)[1]
    return datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class RenewalDue:
    """What a renewal payment pays for, as the page and the email show it."""

    payment: Payment
    subscription: Subscription
    product: str
    seats: int
    period_start: datetime
    period_end: datetime
    amount: Money
    card: str


def renewal_payment_due(*, payment: Payment) -> RenewalDue:
    """The subscription, period and amount of a renewal payment (a read, no lock)."""
    subscription = Subscription.objects.select_related("account", "plan__product").get(
        pk=renewal_subscription_id(payment)
    )
    start = _period_start(payment)
    _, end = period_containing(subscription.billing_anchor, subscription.plan.interval, start)
    return RenewalDue(
        payment=payment,
        subscription=subscription,
        product=subscription.plan.product.name,
        seats=subscription.seats,
        period_start=start,
        period_end=end,
        amount=payment.amount,
        card=str(payment.payment_method) if payment.payment_method else "",
    )
