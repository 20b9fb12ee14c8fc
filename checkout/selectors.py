"""Reads for the checkout: the cart and its quote, orders. A fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Count, FilteredRelation, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.db.transaction import TransactionManagementError

from checkout.models import Cart, CartLine, Order
from checkout.pricing import CartQuote, LineInput, quote_cart
from payments.cards import default_payment_method
from payments.models import Payment, PaymentMethod
from subscriptions.credit import credit_balance
from subscriptions.messages import quote_problem_message, seat_error_message
from subscriptions.models import Account, Subscription
from subscriptions.proration import QuoteError, validate_new_seats
from subscriptions.selectors import (
    account_tax_treatment,
    assigned_seats_count,
    is_purchase,
    subscription_quote_basis,
)
from subscriptions.vat import DESTINATION, EU_COUNTRIES

# Place order locks in one order, so that two checkouts never wait for each other
# crosswise: the account (``account_locked``), then the checkout's payment attempts
# (``checkout_attempts_locked``), then the cart's subscriptions by id
# (``cart_lines(lock=True)``). Each lock is taken by a statement of its own: a
# statement that waited for a lock sees only what was committed when it began.


def cart_of(*, account: Account) -> Cart | None:
    return Cart.objects.filter(account=account).first()


def _require_transaction(what: str) -> None:
    """A read that relies on locks holds them only as long as its transaction."""
    if not connection.in_atomic_block:
        raise TransactionManagementError(f"{what} runs inside a transaction.")


def cart_lines(*, account: Account, lock: bool = False) -> list[CartLine]:
    """The account's cart lines with cart, subscription, plan, product and the number
    of users assigned to the subscription (``assigned_seats``): one query.

    With ``lock`` (inside Place order's transaction) the lines' subscriptions are
    locked too, in subscription order, until the transaction ends.
    """
    if lock:
        _require_transaction("cart_lines(lock=True)")
    lines = (
        CartLine.objects.filter(cart__account=account)
        .select_related("cart", "subscription__plan__product")
        .annotate(assigned_seats=assigned_seats_count("subscription_id"))
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


# -- Place order's reads, under its locks -------------------------------------------------


def account_locked(*, account_id: int) -> Account:
    """The account's row, locked until the transaction ends: the first of Place order's
    locks. ``Account.DoesNotExist`` if there is no such account."""
    return Account.objects.select_for_update().get(pk=account_id)


def checkout_order(*, account_id: int, checkout_token: str) -> Order | None:
    """The order a checkout placed, if it has (the checkout token is its idempotency key)."""
    return Order.objects.filter(account_id=account_id, idempotency_key=checkout_token).first()


@dataclass(frozen=True)
class CheckoutAtClaim:
    """What Place order's claim reads under the account lock, in one query."""

    order_id: int | None  # the order this checkout placed already
    open_attempts: int  # its payment attempts without an order
    payment_method: PaymentMethod | None  # the card on file


def checkout_at_claim(*, account: Account, checkout_token: str) -> CheckoutAtClaim:
    """The checkout's order id, its number of open payment attempts and the card on file.

    Read under the account lock (after it, in a query of its own): orders and
    checkout attempts are only written under that lock, so these cannot change
    until it is released; the attempts themselves are read (and locked) only
    when there are some.
    """
    _require_transaction("checkout_at_claim")
    order = Order.objects.filter(account=OuterRef("pk"), idempotency_key=checkout_token)
    # Counted among the checkout's payments (its token's index), not looked up by "no
    # order yet": every attempt starts without one, so until VACUUM that index holds an
    # entry for each attempt ever made, and the planner may prefer it.
    open_attempts = (
        Payment.objects.filter(checkout_token=checkout_token, account=OuterRef("pk"))
        .order_by()
        .values("account")
        .annotate(count=Count("pk", filter=Q(order__isnull=True)))
        .values("count")
    )
    claim = (
        Account.objects.filter(pk=account.pk)
        .annotate(
            card_on_file=FilteredRelation(
                "payment_methods", condition=Q(payment_methods__is_default=True)
            ),
            order_id=Subquery(order.values("pk")[:1]),
            open_attempts=Coalesce(Subquery(open_attempts), 0),
        )
        .select_related("card_on_file")
        .get()
    )
    return CheckoutAtClaim(
        order_id=claim.order_id,
        open_attempts=claim.open_attempts,
        # select_related sets a filtered reverse relation only when the join found a row.
        payment_method=getattr(claim, "card_on_file", None),
    )


def checkout_attempts_locked(*, account: Account, checkout_token: str) -> list[Payment]:
    """The account's payment attempts for a checkout without an order, newest first,
    locked, each with its card (``select_related``)."""
    # All the checkout's payments, found by its token's index; those with an order are
    # left out afterwards (see checkout_at_claim on why not "order IS NULL" here).
    attempts = (
        Payment.objects.filter(checkout_token=checkout_token, account=account)
        .select_related("payment_method")
        .select_for_update(of=("self",))
        .order_by("-pk")
    )
    return [payment for payment in attempts if payment.order_id is None]


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
            account_credit=credit_balance(account),
            at=at,
        )
    except ValueError as error:
        # E.g. a period that ended before its renewal ran: quote nothing, say why.
        review.error = quote_problem_message(error)
    return review


def account_orders(*, account: Account) -> QuerySet[Order]:
    return Order.objects.filter(account=account).order_by("-placed_at", "-id")
