"""Writes of the checkout: the cart, and placing an order exactly once."""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from checkout.gateways import CardDetails, PaymentGateway, get_gateway
from checkout.models import Cart, CartLine, Order, OrderLine, Payment, PaymentMethod
from checkout.selectors import CartReview, cart_review, line_problem
from subscriptions import clock
from subscriptions.messages import quote_problem_message
from subscriptions.models import Account, CreditLedgerEntry, SeatChange, Subscription, User
from subscriptions.selectors import subscription_seat_change_quote
from subscriptions.services import credit_ledger_add

logger = logging.getLogger(__name__)

# A reviewed quote is placed at its own instant only while it is this fresh;
# after that the admin reviews again, so no order takes effect in the past.
REVIEW_VALID_FOR = timedelta(minutes=15)


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


def _rotate_checkout_token(cart: Cart) -> None:
    cart.checkout_token = uuid.uuid4()
    cart.save(update_fields=["checkout_token", "updated_at"])


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
        cart, _ = Cart.objects.select_for_update().get_or_create(account=account)
        line, _ = CartLine.objects.update_or_create(
            cart=cart,
            subscription=subscription,
            defaults={"new_seats": new_seats, "added_at": clock.now()},
        )
        _rotate_checkout_token(cart)
    return line


def cart_line_remove(*, account: Account, line_id: int) -> None:
    """Take a line out of the account's cart; another account's line is not found."""
    with transaction.atomic():
        cart = Cart.objects.select_for_update().get(account=account)
        line = CartLine.objects.get(cart=cart, pk=line_id)
        line.delete()
        _rotate_checkout_token(cart)


def _order_number(at: datetime) -> str:
    return f"BC-{at:%Y%m%d}-{secrets.token_hex(4).upper()}"


def order_place(
    *,
    account: Account,
    placed_by: User,
    checkout_token: uuid.UUID,
    quoted_at: datetime,
    fingerprint: str,
    card: CardDetails | None = None,
    language: str = "en",
    gateway: PaymentGateway | None = None,
) -> Order:
    """Place the reviewed cart as one order, once, or change nothing.

    Locks the account, then its cart, then the subscriptions (always in that
    order), re-reads everything under the locks and re-quotes at the reviewed
    instant. If the new quote differs from the reviewed one in anything,
    raises ``ReviewOutdated`` with the new review. The same checkout token
    placed again returns the order it made. The payment is taken last, inside
    the transaction: a failed payment rolls everything back.
    """
    gateway = gateway or get_gateway()
    now = clock.now()
    if not now - REVIEW_VALID_FOR <= quoted_at <= now:
        raise ReviewOutdated("The review is too old (or from the future) to be placed.")
    with transaction.atomic():
        # Re-read under the lock: VAT number, country or channel may have changed.
        account = Account.objects.select_for_update().get(pk=account.pk)
        existing = Order.objects.filter(account=account, idempotency_key=str(checkout_token))
        if order := existing.first():
            return order
        cart = Cart.objects.select_for_update().filter(account=account).first()
        if cart is None or cart.checkout_token != checkout_token:
            raise ReviewOutdated("The cart changed after the review.")
        list(
            Subscription.objects.select_for_update()
            .filter(pk__in=cart.lines.values("subscription_id"))
            .order_by("pk")
        )
        review = cart_review(account=account, at=quoted_at)
        if not review.can_place or review.quote.fingerprint() != fingerprint:
            raise ReviewOutdated("The quote changed after the review.", review=review)
        quote = review.quote

        payment_method = review.payment_method
        if quote.amount_due.amount > 0:
            if card is not None:
                payment_method = _payment_method_save(account=account, card=card, gateway=gateway)
            elif payment_method is None:
                raise PaymentDetailsRequired(review=review)

        order = Order.objects.create(
            number=_order_number(now),
            account=account,
            placed_by=placed_by,
            placed_at=now,
            effective_at=quote.at,
            idempotency_key=str(checkout_token),
            language=language,
            tax_kind=quote.tax.kind,
            tax_rate=quote.tax.rate,
            vat_number=account.vat_number,
            credit=quote.credit,
            charge=quote.charge,
            subtotal=quote.subtotal,
            tax=quote.tax_amount,
            total=quote.total,
            credit_applied=quote.credit_applied,
            credit_added=quote.credit_added,
            amount_due=quote.amount_due,
            payment_method_label=str(payment_method) if quote.amount_due.amount > 0 else "",
        )
        subscriptions = {line.subscription_id: line.subscription for line in review.lines}
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                subscription_id=line.subscription_id,
                product_name=subscriptions[line.subscription_id].plan.product.name,
                interval=line.interval,
                from_seats=line.current_seats,
                to_seats=line.new_seats,
                unit_price=line.unit_price,
                period_start=line.period_start,
                period_end=line.period_end,
                new_period_start=line_quote.new_period_start,
                new_period_end=line_quote.new_period_end,
                credit=line_quote.credit,
                charge=line_quote.charge,
                subtotal=line_quote.subtotal,
                tax=line_quote.tax,
                total=line_quote.total,
            )
            for line, line_quote in quote.lines
        )
        SeatChange.objects.bulk_create(
            SeatChange(
                subscription_id=line.subscription_id,
                from_seats=line.current_seats,
                to_seats=line.new_seats,
                at=quote.at,
                changed_by=placed_by,
                channel=SeatChange.Channel.PORTAL,
                order_reference=order.number,
            )
            for line, _ in quote.lines
        )
        changed = []
        for line, line_quote in quote.lines:
            subscription = subscriptions[line.subscription_id]
            subscription.status = Subscription.Status.ACTIVE
            subscription.seats = line.new_seats
            subscription.billing_anchor = line_quote.new_period_start
            subscription.current_period_start = line_quote.new_period_start
            subscription.current_period_end = line_quote.new_period_end
            subscription.version = F("version") + 1
            changed.append(subscription)
        Subscription.objects.bulk_update(
            changed,
            [
                "status",
                "seats",
                "billing_anchor",
                "current_period_start",
                "current_period_end",
                "version",
            ],
        )
        # Credit first goes in, then is used: the balance never dips below zero.
        if quote.credit_added.amount > 0:
            credit_ledger_add(
                account=account,
                amount=quote.credit_added,
                reason=CreditLedgerEntry.Reason.SEAT_CHANGE_CREDIT,
                reference=order.number,
                created_by=placed_by,
            )
        if quote.credit_applied.amount > 0:
            credit_ledger_add(
                account=account,
                amount=-quote.credit_applied,
                reason=CreditLedgerEntry.Reason.APPLIED_TO_ORDER,
                reference=order.number,
                created_by=placed_by,
            )
        cart.lines.all().delete()
        _rotate_checkout_token(cart)

        if quote.amount_due.amount > 0:
            result = gateway.charge(
                payment_method=payment_method,
                amount=quote.amount_due,
                # One key per checkout and card: a retry with the same card is the same
                # charge, a retry with another card a new attempt.
                idempotency_key=f"order:{order.idempotency_key}:pm:{payment_method.pk}",
                at=now,
            )
            if not result.succeeded:
                logger.warning(
                    "Payment for account %s failed (%s): nothing placed",
                    account.pk,
                    result.failure_reason,
                )
                raise PaymentFailed(result.failure_reason)
            Payment.objects.create(
                order=order,
                gateway=gateway.name,
                reference=result.reference,
                amount=quote.amount_due,
                status=Payment.Status.SUCCEEDED,
                created_at=now,
            )

        from checkout.tasks import send_order_confirmation

        # Robust: a broker or SMTP failure must not turn a placed order into an error page;
        # the email stays pending on the order for the sweeper.
        transaction.on_commit(lambda: send_order_confirmation.delay(order.pk), robust=True)
    return order


def _payment_method_save(
    *, account: Account, card: CardDetails, gateway: PaymentGateway
) -> PaymentMethod:
    """Keep the new card (brand, last four, expiry) as the account's default."""
    saved = gateway.save_card(card=card)
    PaymentMethod.objects.filter(account=account, is_default=True).update(is_default=False)
    return PaymentMethod.objects.create(
        account=account,
        gateway=gateway.name,
        gateway_reference=saved.reference,
        brand=saved.brand,
        last4=saved.last4,
        exp_month=saved.exp_month,
        exp_year=saved.exp_year,
        is_default=True,
    )
