"""Seat changes support staff make on the customer's behalf, and resent confirmations.

The same rules, quote and order writer as the Billing Center; every action
needs a reason and writes an audit entry."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction

from checkout.errors import (
    CheckoutError,
    PaymentUnavailable,
    ReviewOutdated,
)
from checkout.models import CartLine, Order
from checkout.orders import seat_change_order_write
from checkout.selectors import (
    CartReview,
    default_payment_method,
    line_problem,
)
from checkout.services import (
    REVIEW_VALID_FOR,
    NotPaid,
    payment_not_taken,
    period_running_require,
)
from payments.attempts import payment_attempt_create
from payments.closing import (
    payment_abandon_or_leave_open,
)
from payments.gateways import (
    GatewayUnavailable,
    PaymentGateway,
    get_gateway,
)
from payments.models import Payment
from subscriptions import clock
from subscriptions.activity import Channel, activity_record
from subscriptions.messages import quote_problem_message
from subscriptions.models import Account, SeatChange, Subscription, User


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
        period_running_require(review)
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
                    raise NotPaid(result)
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
            activity_record(
                account=account,
                actor=staff,
                channel=Channel.ADMIN,
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
            payment_abandon_or_leave_open(payment=payment, gateway=gateway)
        raise
    except NotPaid as not_paid:
        return payment_not_taken(payment=payment, result=not_paid.result)
    except GatewayUnavailable as error:
        raise PaymentUnavailable(str(error)) from error


def _billing_admin_language(account: Account) -> str:
    admin = account.memberships.filter(role="billing_admin").select_related("user").first()
    return admin.user.language if admin else "en"


def order_email_resend(*, order: Order, reason: str, staff: User) -> Order:
    """Send an order's confirmation again (support), through the same task, audited."""
    from checkout.tasks import send_order_confirmation

    if not reason.strip():
        raise StaffChangeRefused("A reason is required.")
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        before = locked.email_status
        locked.email_status = Order.EmailStatus.PENDING
        locked.email_error = ""
        locked.save(update_fields=["email_status", "email_error"])
        activity_record(
            account=locked.account_id,
            actor=staff,
            channel=Channel.ADMIN,
            action="email_resent",
            target=f"order {locked.number}",
            before={"email_status": before},
            after={"email_status": "pending"},
            reason=reason.strip(),
            at=clock.now(),
        )
        transaction.on_commit(lambda: send_order_confirmation.delay(locked.pk), robust=True)
    return locked
