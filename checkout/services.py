"""Writes of the checkout: the cart, and placing an order exactly once."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from moneyed import Money

from checkout.attempts import payment_attempt_create, payment_attempt_new, payment_attempts_create
from checkout.gateways import (
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
from checkout.models import Cart, CartLine, Order, Payment, PaymentMethod
from checkout.orders import cart_token_rotate, seat_change_order_write
from checkout.selectors import (
    CartReview,
    account_locked,
    cart_review,
    checkout_at_claim,
    checkout_attempts_locked,
    checkout_order,
    default_payment_method,
    line_problem,
)
from subscriptions import clock
from subscriptions.messages import quote_problem_message
from subscriptions.models import Account, SeatChange, Subscription, User
from subscriptions.selectors import subscription_seat_change_quote

logger = logging.getLogger(__name__)

# A reviewed quote is placed at its own instant only while it is this fresh;
# after that the admin reviews again, so no order takes effect in the past.
REVIEW_VALID_FOR = timedelta(minutes=15)
# How long one request owns a payment attempt before another may take it over
# (after a crash); longer than any gateway call with its retries.
PAYMENT_CLAIM = timedelta(seconds=90)
# How long a second request for the same checkout waits for the first one.
PAYMENT_WAIT_SECONDS = 20
# Extra time a payment waiting for the bank's authentication may take.
AUTHENTICATION_GRACE = timedelta(minutes=15)
# A saved card that declined this checkout this recently gets the same answer without
# the bank being asked again: a burst of clicks must not look like card testing to it.
DECLINE_REPEATED_WITHIN = timedelta(seconds=30)
AUTHENTICATION_FAILED = "authentication_failed"


class CheckoutError(Exception):
    """Place order did not happen; ``code`` says why, nothing was written."""

    code = "checkout_error"

    def __init__(self, message: str = "", *, review: CartReview | None = None) -> None:
        super().__init__(message or self.code)
        self.review = review


class ReviewOutdated(CheckoutError):
    """Something changed since the admin's review: show the new one."""

    code = "review_outdated"


class PaymentDetailsRequired(CheckoutError):
    code = "payment_details_required"


class PaymentFailed(CheckoutError):
    """The gateway did not take the money; ``reason`` is its decline code."""

    code = "payment_failed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PaymentRequiresAction(CheckoutError):
    """The bank asks the admin to authenticate ``payment`` (3-D Secure)."""

    code = "payment_requires_action"

    def __init__(self, payment: Payment) -> None:
        super().__init__("authentication required")
        self.payment = payment


class PaymentUnavailable(CheckoutError):
    """The gateway did not answer; nothing was placed, trying again is safe."""

    code = "payment_unavailable"


class PaymentInProgress(CheckoutError):
    """Another request is taking this checkout's payment right now."""

    code = "payment_in_progress"


def cart_line_set(
    *, account: Account, subscription: Subscription, new_seats: int, assigned_seats: int
) -> CartLine:
    """Put a seat change in the account's cart, replacing that subscription's line.

    Refuses (``ValidationError`` carrying the rule's ``QuoteError``) a count the
    rules do not allow; nothing is saved then.
    """
    if subscription.account_id != account.pk:
        raise ValidationError("This subscription belongs to another account.")
    problem = line_problem(
        subscription=subscription, new_seats=new_seats, assigned_seats=assigned_seats
    )
    if problem:
        raise ValidationError(problem)
    try:  # a line that cannot be quoted now (a period awaiting renewal) is not added
        subscription_seat_change_quote(subscription=subscription, new_seats=new_seats)
    except ValueError as error:
        raise ValidationError(quote_problem_message(error)) from None
    with transaction.atomic():
        Account.objects.select_for_update().get(pk=account.pk)
        cart, _ = Cart.objects.get_or_create(account=account)
        line, _ = CartLine.objects.update_or_create(
            cart=cart,
            subscription=subscription,
            defaults={"new_seats": new_seats, "added_at": clock.now()},
        )
        cart_token_rotate(cart)
    return line


def cart_line_remove(*, account: Account, line_id: int) -> None:
    """Take a line out of the account's cart; another account's line is not found."""
    with transaction.atomic():
        Account.objects.select_for_update().get(pk=account.pk)
        cart = Cart.objects.get(account=account)
        line = CartLine.objects.get(cart=cart, pk=line_id)
        line.delete()
        cart_token_rotate(cart)


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
            review = _review_as_seen(account, checkout_token, quoted_at, fingerprint)
            _require_reviewed_amount(review, amount_due)
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
                _unused_card_forget(attempt)
        if card is not None:
            payment_method = _payment_method_save(account=account, card=card, gateway=gateway)
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


class _NotPaid(Exception):
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
                        lambda: _payment_abandon_or_leave_open(payment=payment, gateway=gateway)
                    )
                return order
            review = _review_as_seen(
                account, payment.checkout_token, payment.quoted_at, payment.fingerprint
            )
            _require_reviewed_amount(review, payment.amount)
            result = _payment_take(payment=payment, gateway=gateway)
            if not result.succeeded:
                raise _NotPaid(result)
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
        _payment_abandon_or_leave_open(payment=payment, gateway=gateway)
        raise
    except _NotPaid as not_paid:
        return _payment_not_taken(payment=payment, result=not_paid.result)
    except GatewayRefused as refused:
        logger.warning("Gateway refused payment %s: %s", payment.pk, refused)
        return _payment_not_taken(
            payment=payment, result=ChargeResult(FAILED, payment.reference, refused.code)
        )
    except GatewayUnavailable as error:
        logger.warning("Gateway unavailable for payment %s: %s", payment.pk, error)
        _payment_release(payment=payment)
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


def _payment_not_taken(*, payment: Payment, result: ChargeResult) -> Order:
    """Record a decline or an authentication request; the order was rolled back."""
    if result.status == PENDING:
        # Neither paid nor failed yet: keep the attempt open; the next try or the
        # reconciliation sweep finishes it when the gateway has decided.
        _payment_release(payment=payment)
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
    _unused_card_forget(payment)
    logger.warning("Payment %s declined (%s): nothing placed", payment.pk, payment.failure_reason)
    raise PaymentFailed(payment.failure_reason)


def _unused_card_forget(payment: Payment) -> None:
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
            transaction.on_commit(lambda: _card_detach(reference), robust=True)


def _card_detach(reference: str) -> None:
    gateway = get_gateway()
    if hasattr(gateway, "card_detach"):
        gateway.card_detach(reference=reference)


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
            review = _review_as_seen(
                account, payment.checkout_token, payment.quoted_at, payment.fingerprint
            )
            _require_reviewed_amount(review, payment.amount)
    except ReviewOutdated:
        _payment_abandon_or_leave_open(payment=payment, gateway=gateway)
        raise


def _payment_release(*, payment: Payment) -> None:
    Payment.objects.filter(pk=payment.pk).update(claimed_until=None)


def _payment_abandon(*, payment: Payment, gateway: PaymentGateway) -> None:
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
            _payment_release(payment=payment)
            return
    if payment.status == Payment.Status.SUCCEEDED:
        gateway.refund(payment=payment)
        status = Payment.Status.REFUNDED
    else:
        status = Payment.Status.CANCELED
    Payment.objects.filter(pk=payment.pk).update(status=status, claimed_until=None)
    _unused_card_forget(payment)


def _payment_abandon_or_leave_open(*, payment: Payment, gateway: PaymentGateway) -> None:
    try:
        _payment_abandon(payment=payment, gateway=gateway)
    except (GatewayUnavailable, GatewayRefused) as error:
        # Could not refund or cancel now: the attempt stays open for the sweep.
        logger.error("Payment %s could not be closed (%s); left for the sweep", payment.pk, error)
        _payment_release(payment=payment)


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
        .exclude(checkout_token__startswith="renewal:")
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
            _payment_release(payment=payment)
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
            _unused_card_forget(payment)
            counts["failed"] += 1
            continue
        if known is not None and known.status == PENDING:
            _payment_release(payment=payment)
            counts["left"] += 1
            continue
        auth_window = REVIEW_VALID_FOR + AUTHENTICATION_GRACE
        if (
            payment.status == Payment.Status.REQUIRES_ACTION
            and payment.quoted_at > now - auth_window
        ):
            _payment_release(payment=payment)  # the admin may still finish the bank's step
            counts["left"] += 1
            continue
        _payment_abandon_or_leave_open(payment=payment, gateway=gateway)
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
                _unused_card_forget(payment)
    if return_early:
        raise PaymentFailed(payment.failure_reason)
    return payment_complete(payment=payment, gateway=gateway)


def _review_as_seen(
    account: Account, checkout_token: str, quoted_at: datetime, fingerprint: str
) -> CartReview:
    """Re-quote the cart under lock at the reviewed instant; it must be what was reviewed."""
    review = cart_review(account=account, at=quoted_at, lock=True)
    if review.cart is None or str(review.cart.checkout_token) != checkout_token:
        raise ReviewOutdated("The cart changed after the review.")
    if not review.can_place or review.quote.fingerprint() != fingerprint:
        raise ReviewOutdated("The quote changed after the review.", review=review)
    _require_period_running(review)
    return review


def _require_reviewed_amount(review: CartReview, amount_due: Money) -> None:
    """The amount the payment was opened for is the one the quote under lock says is due."""
    if review.quote.amount_due != amount_due:
        raise ReviewOutdated("The amount due is not the reviewed one.", review=review)


def _require_period_running(review: CartReview) -> None:
    """A quote credits the unused time of a period; once that period has ended its
    renewal is due (and may be running), so the change must be reviewed again."""
    now = clock.now()
    for line, _ in review.quote.lines:
        if now >= line.period_end:
            raise ReviewOutdated("The billing period ended after the review.", review=review)


def _payment_method_save(
    *, account: Account, card: CardDetails | StripeCardSetup, gateway: PaymentGateway
) -> PaymentMethod:
    """Keep a card entered on the review (the sandbox's form, or Stripe.js's SetupIntent):
    brand, last four and expiry, not yet as the card on file."""
    if not hasattr(gateway, "save_card"):
        raise PaymentDetailsRequired("Cards are entered through the payment provider's form.")
    saved = gateway.save_card(card=card)
    # Not the default yet: it becomes the card on file once it has paid.
    return payment_method_store(
        account=account, saved=saved, gateway_name=gateway.name, make_default=False
    )


def payment_method_store(
    *, account: Account, saved, gateway_name: str, make_default: bool = True
) -> PaymentMethod:
    """Keep a saved card; by default it replaces the account's card on file. One that
    is not the default is a card entered at checkout, for one payment."""
    if make_default:
        PaymentMethod.objects.filter(account=account, is_default=True).update(is_default=False)
    return PaymentMethod.objects.create(
        account=account,
        gateway=gateway_name,
        gateway_reference=saved.reference,
        brand=saved.brand,
        last4=saved.last4,
        exp_month=saved.exp_month,
        exp_year=saved.exp_year,
        is_default=make_default,
        entered_at_checkout=not make_default,
    )


# -- Support staff ----------------------------------------------------------------------


class StaffChangeRefused(CheckoutError):
    code = "staff_change_refused"


def staff_seat_change_review(*, subscription: Subscription, new_seats: int, at: datetime):
    """The one-line review of a seat change support staff make for the customer.

    Same rules and quote as the Billing Center; raises ``StaffChangeRefused``
    with the rule's message for a count the rules refuse.
    """
    from checkout.pricing import quote_cart
    from checkout.selectors import line_input
    from subscriptions.credit import credit_balance
    from subscriptions.selectors import account_tax_treatment, subscription_assigned_seats

    problem = line_problem(
        subscription=subscription,
        new_seats=new_seats,
        assigned_seats=subscription_assigned_seats(subscription=subscription),
    )
    if problem:
        raise StaffChangeRefused(problem)
    account = subscription.account
    try:
        quote = quote_cart(
            lines=[line_input(subscription=subscription, new_seats=new_seats, at=at)],
            tax=account_tax_treatment(account=account),
            account_credit=credit_balance(account),
            at=at,
        )
    except ValueError as error:
        raise StaffChangeRefused(quote_problem_message(error)) from None
    line = CartLine(subscription=subscription, new_seats=new_seats)
    return CartReview(cart=None, lines=[line], quote=quote)


def staff_seat_change(
    *,
    subscription: Subscription,
    new_seats: int,
    staff: User,
    reason: str,
    quoted_at: datetime,
    fingerprint: str,
    gateway: PaymentGateway | None = None,
) -> Order:
    """Change seats on the customer's behalf, as previewed, or change nothing.

    Re-quotes under the account and subscription locks at the previewed
    instant; a different quote raises ``ReviewOutdated``. Money due is taken
    from the card on file: the attempt and its gateway reference are committed
    before the money moves, as at Place order. Writes an audit entry.
    """
    from subscriptions.models import AuditEntry

    if not reason.strip():
        raise StaffChangeRefused("A reason is required.")
    gateway = gateway or get_gateway()
    now = clock.now()
    if not now - REVIEW_VALID_FOR <= quoted_at <= now:
        raise ReviewOutdated("The preview is too old; preview again.")
    token = f"admin:{subscription.pk}:{uuid.uuid4().hex}"

    def locked_review():
        account = Account.objects.select_for_update().get(pk=subscription.account_id)
        locked = (
            Subscription.objects.select_for_update()
            .select_related("plan__product", "account")
            .get(pk=subscription.pk)
        )
        review = staff_seat_change_review(subscription=locked, new_seats=new_seats, at=quoted_at)
        if review.quote.fingerprint() != fingerprint:
            raise ReviewOutdated("The quote changed since the preview.", review=review)
        _require_period_running(review)
        return account, locked, review

    payment = None
    with transaction.atomic():
        account, locked, review = locked_review()
        if review.quote.amount_due.amount > 0:
            method = default_payment_method(account=account)
            if method is None:
                raise StaffChangeRefused(
                    "This change costs money and the account has no card on file."
                )
            payment = payment_attempt_create(
                account=account,
                payment_method=method,
                created_by=staff,
                checkout_token=token,
                idempotency_key=f"{token}:1",
                gateway_name=gateway.name,
                amount=review.quote.amount_due,
                quoted_at=quoted_at,
                fingerprint=fingerprint,
                created_at=now,
            )
    try:
        if payment is not None:
            payment.reference = gateway.prepare(payment=payment)
            payment.save(update_fields=["reference", "updated_at"])
        with transaction.atomic():
            account, locked, review = locked_review()
            if payment is not None:
                result = gateway.confirm(payment=payment)
                if not result.succeeded:
                    raise _NotPaid(result)
                payment.status = Payment.Status.SUCCEEDED
            before = {"seats": locked.seats, "status": locked.status}
            order = seat_change_order_write(
                account=account,
                review=review,
                placed_by=staff,
                checkout_token=token,
                language=_billing_admin_language(account),
                payment=payment,
                channel=SeatChange.Channel.ADMIN,
            )
            AuditEntry.objects.create(
                account=account,
                actor=staff,
                action="seat_change",
                target=f"subscription {locked.pk} ({locked.plan.product.name})",
                before=before,
                after={"seats": new_seats, "status": "active", "order": order.number},
                reason=reason.strip(),
                at=now,
            )
            return order
    except ReviewOutdated:
        if payment is not None:
            _payment_abandon_or_leave_open(payment=payment, gateway=gateway)
        raise
    except _NotPaid as not_paid:
        return _payment_not_taken(payment=payment, result=not_paid.result)
    except GatewayUnavailable as error:
        raise PaymentUnavailable(str(error)) from error


def _billing_admin_language(account: Account) -> str:
    admin = account.memberships.filter(role="billing_admin").select_related("user").first()
    return admin.user.language if admin else "en"


def order_email_resend(*, order: Order, reason: str, staff: User) -> Order:
    """Send an order's confirmation again (support), through the same task, audited."""
    from checkout.tasks import send_order_confirmation
    from subscriptions.models import AuditEntry

    if not reason.strip():
        raise StaffChangeRefused("A reason is required.")
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        before = locked.email_status
        locked.email_status = Order.EmailStatus.PENDING
        locked.email_error = ""
        locked.save(update_fields=["email_status", "email_error"])
        AuditEntry.objects.create(
            account_id=locked.account_id,
            actor=staff,
            action="email_resent",
            target=f"order {locked.number}",
            before={"email_status": before},
            after={"email_status": "pending"},
            reason=reason.strip(),
            at=clock.now(),
        )
        transaction.on_commit(lambda: send_order_confirmation.delay(locked.pk), robust=True)
    return locked
