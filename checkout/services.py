"""Writes of the checkout: placing an order exactly once, and paying for it.

The cart's edits are in ``checkout/cart.py``. ``payments/attempts.py`` creates
the payment attempt, ``checkout/orders.py`` writes the order;
``checkout/payment_closing.py`` and ``checkout/payment_recovery.py`` close what
did not place one; ``checkout/staff.py`` is support's seat change.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta

from django.db import transaction
from moneyed import Money

from checkout.cards import card_entered_save

# The errors live in checkout.errors; views and tasks import them from here too.
from checkout.errors import CheckoutError as CheckoutError
from checkout.errors import PaymentDetailsRequired as PaymentDetailsRequired
from checkout.errors import PaymentFailed as PaymentFailed
from checkout.errors import PaymentInProgress as PaymentInProgress
from checkout.errors import PaymentRequiresAction as PaymentRequiresAction
from checkout.errors import PaymentUnavailable as PaymentUnavailable
from checkout.errors import ReviewOutdated as ReviewOutdated
from checkout.models import Order
from checkout.orders import seat_change_order_write
from checkout.selectors import (
    CartReview,
    account_locked,
    cart_review,
    checkout_at_claim,
    checkout_attempts_locked,
    checkout_order,
)
from payments.attempts import (
    AUTHENTICATION_GRACE,
    PAYMENT_CLAIM,
    REVIEW_VALID_FOR,
    payment_attempt_new,
    payment_attempts_create,
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
    REQUIRES_CONFIRMATION,
    CardDetails,
    ChargeResult,
    GatewayRefused,
    GatewayUnavailable,
    PaymentGateway,
    StripeCardSetup,
    get_gateway,
)
from payments.models import Payment
from subscriptions import clock
from subscriptions.models import Account, User

logger = logging.getLogger(__name__)

# How long a second request for the same checkout waits for the first one.
PAYMENT_WAIT_SECONDS = 20
# A saved card that declined this checkout this recently gets the same answer without
# the bank being asked again: a burst of clicks must not look like card testing to it.
DECLINE_REPEATED_WITHIN = timedelta(seconds=30)
AUTHENTICATION_FAILED = "authentication_failed"


def order_place(
    *,
    account: Account,
    placed_by: User,
    checkout_token: uuid.UUID,
    quoted_at: datetime,
    fingerprint: str,
    amount_due: Money,
    card: CardDetails | StripeCardSetup | None = None,
    language: str = "en",
    gateway: PaymentGateway | None = None,
) -> Order:
    """Place the reviewed cart as one order, once, or change nothing.

    ``quoted_at``, ``fingerprint`` and ``amount_due`` come from the review the
    admin saw (signed by the server, never typed by the browser). Steps:

    1. Under the account lock: the same checkout placed already returns its
       order; with money due, a payment attempt is claimed and committed
       before any gateway call (so a retry finds it, never charges again).
    2. The gateway registers the payment (``prepare``; no money moves) and its
       reference is committed. (The sandbox's reference is computed locally from
       the attempt's idempotency key, so it is committed with the attempt in 1.)
    3. Under the account lock again, with the cart's subscriptions locked: the
       cart is re-quoted at the reviewed instant; anything different from the
       review raises ``ReviewOutdated`` and nothing is charged. Then the money
       is taken and the order, its lines, the seat-change history, the
       subscriptions, the credit ledger and the payment are written in the same
       transaction. A decline, an authentication request or a timeout rolls it
       all back; the attempt records what happened.
    """
    gateway = gateway or get_gateway()
    now = clock.now()
    if not now - REVIEW_VALID_FOR <= quoted_at <= now:
        raise ReviewOutdated("The review is too old (or from the future) to be placed.")
    for _ in range(int(PAYMENT_WAIT_SECONDS / 0.25)):
        try:
            claimed = _payment_claim(
                account=account,
                placed_by=placed_by,
                checkout_token=str(checkout_token),
                quoted_at=quoted_at,
                fingerprint=fingerprint,
                amount_due=amount_due,
                card=card,
                language=language,
                gateway=gateway,
            )
            break
        except PaymentInProgress:
            time.sleep(0.25)  # a double click: the first request is paying
        except PaymentRequiresAction as waiting:
            # An attempt of this checkout already waits for the bank: the review it was
            # opened for must still hold before the admin is sent there again.
            payment_bank_step_allowed(payment=waiting.payment, gateway=gateway)
            raise
    else:
        raise PaymentInProgress("The payment of this checkout is still in progress.")
    if isinstance(claimed, Order):
        return claimed
    return payment_complete(payment=claimed, gateway=gateway)


def _payment_claim(
    *,
    account: Account,
    placed_by: User,
    checkout_token: str,
    quoted_at: datetime,
    fingerprint: str,
    amount_due: Money,
    card: CardDetails | StripeCardSetup | None,
    language: str,
    gateway: PaymentGateway,
) -> Order | Payment:
    """Step 1: the existing order, an order that needs no payment, or the attempt to drive."""
    with transaction.atomic():
        account = account_locked(account_id=account.pk)
        checkout = checkout_at_claim(account=account, checkout_token=checkout_token)
        if checkout.order_id is not None:
            return checkout_order(account_id=account.pk, checkout_token=checkout_token)
        if amount_due.amount <= 0:
            # Nothing to charge: quote, check and write in this one transaction.
            review = review_as_seen(account, checkout_token, quoted_at, fingerprint)
            reviewed_amount_require(review, amount_due)
            return seat_change_order_write(
                account=account,
                review=review,
                placed_by=placed_by,
                checkout_token=checkout_token,
                language=language,
                payment=None,
                cart=review.cart,
            )
        attempts = (
            checkout_attempts_locked(account=account, checkout_token=checkout_token)
            if checkout.open_attempts
            else []
        )
        now = clock.now()
        for attempt in attempts:
            if attempt.status == Payment.Status.PROCESSING and (
                attempt.claimed_until and attempt.claimed_until > now
            ):
                raise PaymentInProgress()
            if attempt.status in (Payment.Status.SUCCEEDED, Payment.Status.PROCESSING):
                # Paid, or interrupted mid-way: finish it (the gateway is asked what
                # happened) rather than start another payment that could charge twice.
                attempt.claimed_until = now + PAYMENT_CLAIM
                attempt.save(update_fields=["claimed_until", "updated_at"])
                return attempt
            if attempt.status == Payment.Status.REQUIRES_ACTION:
                if card is None:
                    raise PaymentRequiresAction(attempt)
                # Another card instead of authenticating: that attempt is given up
                # (and a card typed for it is not kept).
                attempt.status = Payment.Status.CANCELED
                attempt.save(update_fields=["status", "updated_at"])
                unused_card_forget(attempt)
        if card is not None:
            payment_method = card_entered_save(account=account, card=card, gateway=gateway)
        else:
            payment_method = checkout.payment_method
            if payment_method is None:
                raise PaymentDetailsRequired()
            latest = attempts[0] if attempts else None
            if (
                latest is not None
                and latest.status == Payment.Status.FAILED
                # A bank's decline stands; an authentication the admin did not finish
                # (canceled, failed) is theirs to try again at once.
                and latest.failure_reason != AUTHENTICATION_FAILED
                and latest.payment_method_id == payment_method.pk
                and latest.updated_at >= now - DECLINE_REPEATED_WITHIN
            ):
                raise PaymentFailed(latest.failure_reason)
        attempt = payment_attempt_new(
            account=account,
            payment_method=payment_method,
            created_by=placed_by,
            checkout_token=checkout_token,
            idempotency_key=f"checkout:{checkout_token}:{len(attempts) + 1}",
            gateway_name=gateway.name,
            amount=amount_due,
            quoted_at=quoted_at,
            fingerprint=fingerprint,
            language=language,
            claimed_until=now + PAYMENT_CLAIM,
            created_at=now,
        )
        if gateway.prepares_locally:
            # Nothing is asked of anyone: the reference is a function of the row's own
            # idempotency key, so it is committed with the row (no separate write).
            attempt.reference = gateway.prepare(payment=attempt)
        payment_attempts_create([attempt])
        attempt.is_new = True  # never sent to the gateway: confirm without asking first
        return attempt


class NotPaid(Exception):
    def __init__(self, result: ChargeResult) -> None:
        self.result = result


def payment_complete(*, payment: Payment, gateway: PaymentGateway | None = None) -> Order:
    """Steps 2 and 3 for a claimed attempt: take the money and write the order, or nothing.

    Also what finishes an order after the admin authenticated the payment, and
    what a ``payment_intent.succeeded`` webhook calls for an attempt the admin
    left before it was placed.
    """
    gateway = gateway or get_gateway()
    try:
        if payment.quoted_at < clock.now() - REVIEW_VALID_FOR - AUTHENTICATION_GRACE:
            # Too old to take effect at its reviewed instant: give it up (refund if paid).
            raise ReviewOutdated("The reviewed quote is too old to be placed.")
        if not payment.reference:
            payment.reference = gateway.prepare(payment=payment)
            payment.save(update_fields=["reference", "updated_at"])
        with transaction.atomic():
            account = account_locked(account_id=payment.account_id)
            if order := checkout_order(
                account_id=account.pk, checkout_token=payment.checkout_token
            ):
                # Decided on the stored row, not on the caller's copy: a copy read before
                # this order was written (a webhook racing the admin's return from the
                # bank) has no order yet, though it is the payment that paid for it.
                paid_this_order = Payment.objects.filter(pk=payment.pk, order=order).exists()
                if payment.status == Payment.Status.SUCCEEDED and not paid_this_order:
                    # A second payment for an order already paid: give it back.
                    transaction.on_commit(
                        lambda: payment_abandon_or_leave_open(payment=payment, gateway=gateway)
                    )
                return order
            review = review_as_seen(
                account, payment.checkout_token, payment.quoted_at, payment.fingerprint
            )
            reviewed_amount_require(review, payment.amount)
            result = _payment_take(payment=payment, gateway=gateway)
            if not result.succeeded:
                raise NotPaid(result)
            payment.status = Payment.Status.SUCCEEDED
            return seat_change_order_write(
                account=account,
                review=review,
                placed_by=payment.created_by,
                checkout_token=payment.checkout_token,
                language=payment.language,
                payment=payment,
                cart=review.cart,
            )
    except ReviewOutdated:
        payment_abandon_or_leave_open(payment=payment, gateway=gateway)
        raise
    except NotPaid as not_paid:
        return payment_not_taken(payment=payment, result=not_paid.result)
    except GatewayRefused as refused:
        logger.warning("Gateway refused payment %s: %s", payment.pk, refused)
        return payment_not_taken(
            payment=payment, result=ChargeResult(FAILED, payment.reference, refused.code)
        )
    except GatewayUnavailable as error:
        logger.warning("Gateway unavailable for payment %s: %s", payment.pk, error)
        payment_release(payment=payment)
        raise PaymentUnavailable(str(error)) from error


def _payment_take(*, payment: Payment, gateway: PaymentGateway) -> ChargeResult:
    """Confirm the payment unless the gateway says it already went through (or failed)."""
    if payment.status == Payment.Status.SUCCEEDED:
        return ChargeResult("succeeded", payment.reference)
    if getattr(payment, "is_new", False):
        return gateway.confirm(payment=payment)
    known = gateway.retrieve(payment=payment)
    if known.status == REQUIRES_CONFIRMATION:
        return gateway.confirm(payment=payment)
    return known


def payment_not_taken(*, payment: Payment, result: ChargeResult) -> Order:
    """Record a decline or an authentication request; the order was rolled back."""
    if result.status == PENDING:
        # Neither paid nor failed yet: keep the attempt open; the next try or the
        # reconciliation sweep finishes it when the gateway has decided.
        payment_release(payment=payment)
        raise PaymentUnavailable("The payment is still being processed.")
    payment.status = (
        Payment.Status.REQUIRES_ACTION
        if result.status == REQUIRES_ACTION
        else Payment.Status.FAILED
    )
    payment.failure_reason = result.failure_reason if result.status == FAILED else ""
    payment.client_secret = result.client_secret
    payment.claimed_until = None
    payment.save(
        update_fields=["status", "failure_reason", "client_secret", "claimed_until", "updated_at"]
    )
    if payment.status == Payment.Status.REQUIRES_ACTION:
        raise PaymentRequiresAction(payment)
    unused_card_forget(payment)
    logger.warning("Payment %s declined (%s): nothing placed", payment.pk, payment.failure_reason)
    raise PaymentFailed(payment.failure_reason)


def payment_bank_step_allowed(*, payment: Payment, gateway: PaymentGateway | None = None) -> None:
    """Before the admin is sent to the bank for ``payment``: its review must still hold.

    The bank's step takes the money, so it is asked for only while the cart, quoted
    again under lock at the reviewed instant, still comes to the payment's amount.
    Otherwise the payment is canceled at the gateway (it can never take money), a card
    typed for it is forgotten, and ``ReviewOutdated`` is raised: nothing is charged and
    nothing needs refunding.
    """
    gateway = gateway or get_gateway()
    try:
        if payment.quoted_at < clock.now() - REVIEW_VALID_FOR - AUTHENTICATION_GRACE:
            raise ReviewOutdated("The reviewed quote is too old to be placed.")
        with transaction.atomic():
            account = account_locked(account_id=payment.account_id)
            if checkout_order(account_id=account.pk, checkout_token=payment.checkout_token):
                raise ReviewOutdated("This checkout was placed already.")
            review = review_as_seen(
                account, payment.checkout_token, payment.quoted_at, payment.fingerprint
            )
            reviewed_amount_require(review, payment.amount)
    except ReviewOutdated:
        payment_abandon_or_leave_open(payment=payment, gateway=gateway)
        raise


def review_as_seen(
    account: Account, checkout_token: str, quoted_at: datetime, fingerprint: str
) -> CartReview:
    """Re-quote the cart under lock at the reviewed instant; it must be what was reviewed."""
    review = cart_review(account=account, at=quoted_at, lock=True)
    if review.cart is None or str(review.cart.checkout_token) != checkout_token:
        raise ReviewOutdated("The cart changed after the review.")
    if not review.can_place or review.quote.fingerprint() != fingerprint:
        raise ReviewOutdated("The quote changed after the review.", review=review)
    period_running_require(review)
    return review


def reviewed_amount_require(review: CartReview, amount_due: Money) -> None:
    """The amount the payment was opened for is the one the quote under lock says is due."""
    if review.quote.amount_due != amount_due:
        raise ReviewOutdated("The amount due is not the reviewed one.", review=review)


def period_running_require(review: CartReview) -> None:
    """A quote credits the unused time of a period; once that period has ended its
    renewal is due (and may be running), so the change must be reviewed again."""
    now = clock.now()
    for line, _ in review.quote.lines:
        if now >= line.period_end:
            raise ReviewOutdated("The billing period ended after the review.", review=review)
