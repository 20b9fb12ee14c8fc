"""Reads for the checkout: the cart and its quote, orders. A fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext

from checkout.models import Cart, CartLine, Order, PaymentMethod
from checkout.pricing import CartQuote, LineInput, quote_cart
from subscriptions.messages import quote_problem_message, seat_error_message
from subscriptions.models import Account, SeatAssignment, Subscription
from subscriptions.proration import QuoteError, validate_new_seats
from subscriptions.selectors import (
    account_credit_balance,
    account_tax_treatment,
    is_purchase,
    subscription_quote_basis,
)
from subscriptions.vat import DESTINATION, EU_COUNTRIES


def cart_of(*, account: Account) -> Cart | None:
    return Cart.objects.filter(account=account).first()


def _assigned_seats_sql() -> str:
    """The users assigned to the cart line's subscription, a correlated COUNT(*) (never NULL).

    Written out: as a Subquery the ORM compiled a second query on every call,
    a tenth of the review page's time. No value in it comes from a request.
    """
    quote = connection.ops.quote_name
    assignments = quote(SeatAssignment._meta.db_table)
    subscription = quote(SeatAssignment._meta.get_field("subscription").column)
    line_subscription = quote(CartLine._meta.get_field("subscription").column)
    return (
        f"SELECT COUNT(*) FROM {assignments} WHERE {assignments}.{subscription}"  # noqa: S608
        f" = {quote(CartLine._meta.db_table)}.{line_subscription}"  # (the models' own names)
    )


_ASSIGNED_SEATS_SQL = _assigned_seats_sql()


def cart_lines(*, account: Account, lock: bool = False) -> list[CartLine]:
    """The account's cart lines with cart, subscription, plan, product and assigned count.

    One query. With ``lock`` the subscriptions are locked too (FOR UPDATE), in
    subscription order, for Place order.
    """
    lines = (
        CartLine.objects.filter(cart__account=account)
        .select_related("cart", "subscription__plan__product")
        .annotate(assigned_seats=RawSQL(_ASSIGNED_SEATS_SQL, ()))  # noqa: S611 (fixed text)
        .order_by("subscription_id")
    )
    if lock:
        lines = lines.select_for_update(of=("subscription",))
    return list(lines)


def line_input(*, subscription: Subscription, new_seats: int, at: datetime) -> LineInput:
    plan = subscription.plan
    current_seats, start, end = subscription_quote_basis(subscription=subscription, at=at)
    return LineInput(
        subscription_id=subscription.pk,
        subscription_version=subscription.version,
        unit_price=plan.price,
        interval=plan.interval,
        current_seats=current_seats,
        new_seats=new_seats,
        period_start=start,
        period_end=end,
    )


def line_problem(*, subscription: Subscription, new_seats: int, assigned_seats: int) -> str:
    """Why a line cannot be placed now ('' when it can)."""
    if subscription.status == Subscription.Status.CANCELED:
        return gettext("This subscription is canceled.")
    try:
        validate_new_seats(
            current_seats=0 if is_purchase(subscription) else subscription.seats,
            new_seats=new_seats,
            assigned_seats=assigned_seats,
            min_seats=subscription.plan.min_seats,
            max_seats=subscription.plan.max_seats,
        )
    except QuoteError as error:
        return seat_error_message(error)
    return ""


@dataclass
class CartReview:
    """What the review page shows: the lines, their quote or why they cannot be placed."""

    cart: Cart | None
    lines: list[CartLine]
    quote: CartQuote | None = None
    problems: dict[int, str] = field(default_factory=dict)
    error: str = ""
    payment_method: PaymentMethod | None = None
    may_add_vat_number: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def can_place(self) -> bool:
        return self.quote is not None and not self.problems and not self.error

    @property
    def needs_payment_details(self) -> bool:
        return bool(self.quote and self.quote.amount_due.amount > 0 and not self.payment_method)


def default_payment_method(*, account: Account) -> PaymentMethod | None:
    return PaymentMethod.objects.filter(account=account, is_default=True).first()


def cart_review(*, account: Account, at: datetime, lock: bool = False) -> CartReview:
    """Quote the account's cart at ``at``, as the review page and Place order both do.

    ``lock`` (inside Place order's transaction) locks the cart's subscriptions.
    """
    lines = cart_lines(account=account, lock=lock)
    if not lines:
        return CartReview(cart=cart_of(account=account), lines=[])
    review = CartReview(cart=lines[0].cart, lines=lines)
    for line in lines:
        problem = line_problem(
            subscription=line.subscription,
            new_seats=line.new_seats,
            assigned_seats=line.assigned_seats,
        )
        if problem:
            review.problems[line.pk] = problem
    try:
        tax = account_tax_treatment(account=account)
    except ValueError as error:  # no VAT rate recorded for the account's country
        review.error = quote_problem_message(error)
        return review
    review.may_add_vat_number = (
        tax.kind == DESTINATION and account.country in EU_COUNTRIES and not account.vat_number
    )
    if not lock:  # Place order's locked re-quote pays with the attempt's own card
        review.payment_method = default_payment_method(account=account)
    if review.problems:
        return review
    try:
        review.quote = quote_cart(
            lines=[
                line_input(subscription=line.subscription, new_seats=line.new_seats, at=at)
                for line in lines
            ],
            tax=tax,
            account_credit=account_credit_balance(account=account),
            at=at,
        )
    except ValueError as error:
        # E.g. a period that ended before its renewal ran: quote nothing, say why.
        review.error = quote_problem_message(error)
    return review


def account_orders(*, account: Account) -> QuerySet[Order]:
    return Order.objects.filter(account=account).order_by("-placed_at", "-id")
