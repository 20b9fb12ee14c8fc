"""Reads for the checkout: the cart and its quote, orders. A fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet
from django.db.transaction import TransactionManagementError
from django.utils.translation import gettext

from checkout.models import Cart, CartLine, Order
from checkout.pricing import CartQuote, LineInput, quote_cart
from payments.cards import default_payment_method
from payments.models import Payment, PaymentMethod
from subscriptions.messages import quote_problem_message, seat_error_message
from subscriptions.models import Account, Subscription
from subscriptions.proration import QuoteError, validate_new_seats
from subscriptions.selectors import (
    ASSIGNED_SEATS_SQL,
    PLAN_AND_PRODUCT_JOINS,
    SUBSCRIPTION_WITH_PLAN_COLUMNS,
    SUBSCRIPTION_WITH_PLAN_FIELDS,
    QuoteBasis,
    is_purchase,
    subscription_quote_basis,
    subscription_with_plan,
)
from subscriptions.statements import (
    FixedStatement,
    attnames,
    columns_sql,
    instance_from,
    table_column,
)
from subscriptions.vat import DESTINATION, EU_COUNTRIES


def cart_of(*, account: Account) -> Cart | None:
    return Cart.objects.filter(account=account).first()


def _for_update(sql: str, *, of: type | None = None) -> str:
    if not connection.features.has_select_for_update:
        return sql  # SQLite (make run) locks the whole database for a write anyway
    if of is not None and connection.features.has_select_for_update_of:
        return f"{sql} FOR UPDATE OF {connection.ops.quote_name(of._meta.db_table)}"
    return f"{sql} FOR UPDATE"


def _require_transaction(what: str) -> None:
    """A read that locks rows holds them only as long as its transaction."""
    if not connection.in_atomic_block:
        raise TransactionManagementError(f"{what} runs inside a transaction.")


def _cart_lines_sql(*, lock: bool) -> str:
    """The account's cart lines with their cart, subscription, plan, product and the
    number of users assigned to the subscription."""
    lines, cart_id = table_column(CartLine, "cart")
    _, line_subscription = table_column(CartLine, "subscription")
    carts, cart_pk = table_column(Cart, "id")
    _, cart_account = table_column(Cart, "account")
    subscriptions, subscription_pk = table_column(Subscription, "id")
    sql = (
        f"SELECT {columns_sql(CartLine)}, {columns_sql(Cart)}, {SUBSCRIPTION_WITH_PLAN_COLUMNS},"  # noqa: S608
        f" ({ASSIGNED_SEATS_SQL}) FROM {lines}"
        f" INNER JOIN {carts} ON {lines}.{cart_id} = {carts}.{cart_pk}"
        f" INNER JOIN {subscriptions}"
        f" ON {lines}.{line_subscription} = {subscriptions}.{subscription_pk}"
        f"{PLAN_AND_PRODUCT_JOINS}"
        f" WHERE {carts}.{cart_account} = %s ORDER BY {lines}.{line_subscription}"
    )
    return _for_update(sql, of=Subscription) if lock else sql


# The selected columns' fields, in the statement's order.
_CART_LINE_FIELDS = [
    *CartLine._meta.concrete_fields,
    *Cart._meta.concrete_fields,
    *SUBSCRIPTION_WITH_PLAN_FIELDS,
    None,  # the assigned count
]
_CART_LINES = FixedStatement(_cart_lines_sql(lock=False), _CART_LINE_FIELDS)
_CART_LINES_LOCKED = FixedStatement(_cart_lines_sql(lock=True), _CART_LINE_FIELDS)


def cart_lines(*, account: Account, lock: bool = False) -> list[CartLine]:
    """The account's cart lines with cart, subscription, plan, product and assigned count.

    One query (a fixed statement, like the ORM's ``select_related``, which cost
    the review page as much again to compile and plan as to run). With
    ``lock`` the subscriptions are locked too (FOR UPDATE), in subscription
    order, for Place order.
    """
    if lock:
        _require_transaction("cart_lines(lock=True)")
    rows = (_CART_LINES_LOCKED if lock else _CART_LINES).rows([account.pk])
    lines, cart, plans, products = [], None, {}, {}
    for row in rows:
        values = iter(row)
        line = instance_from(CartLine, values, _LINE_NAMES)
        line_cart = instance_from(Cart, values, _CART_NAMES)
        cart = cart or line_cart  # the same cart on every line: one object
        subscription = subscription_with_plan(values, plans, products)
        line.assigned_seats = next(values)
        CartLine.subscription.field.set_cached_value(line, subscription)
        CartLine.cart.field.set_cached_value(line, cart)
        lines.append(line)
    return lines


_LINE_NAMES, _CART_NAMES = attnames(CartLine), attnames(Cart)


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


# -- Place order's reads, under its locks -------------------------------------------------
# Fixed statements (subscriptions/statements.py): Place order runs them on every
# request, and through the ORM each cost more CPU to compile than to run.


def _account_locked_sql() -> str:
    table, pk = table_column(Account, "id")
    return _for_update(f"SELECT {columns_sql(Account)} FROM {table} WHERE {pk} = %s")  # noqa: S608


_ACCOUNT_LOCKED = FixedStatement(_account_locked_sql(), list(Account._meta.concrete_fields))
_ACCOUNT_NAMES = attnames(Account)

_PAYMENT_METHOD_NAMES = attnames(PaymentMethod)


def account_locked(*, account_id: int) -> Account:
    """The account's row, locked until the transaction ends (``select_for_update``).

    A statement of its own, before anything is read under the lock: a statement
    that waited for the lock sees only what was committed when it began, so a
    read in the same statement could miss what the lock's last holder wrote.
    """
    _require_transaction("account_locked")
    rows = _ACCOUNT_LOCKED.rows([account_id])
    if not rows:
        raise Account.DoesNotExist(f"No account {account_id}.")
    return instance_from(Account, iter(rows[0]), _ACCOUNT_NAMES)


def _checkout_order_sql() -> str:
    table, account = table_column(Order, "account")
    _, key = table_column(Order, "idempotency_key")
    return f"SELECT {columns_sql(Order)} FROM {table} WHERE {account} = %s AND {key} = %s"  # noqa: S608


_CHECKOUT_ORDER = FixedStatement(_checkout_order_sql(), list(Order._meta.concrete_fields))
_ORDER_NAMES = attnames(Order)


def checkout_order(*, account_id: int, checkout_token: str) -> Order | None:
    """The order a checkout placed, if it has (the checkout token is its idempotency key)."""
    rows = _CHECKOUT_ORDER.rows([account_id, checkout_token])
    return instance_from(Order, iter(rows[0]), _ORDER_NAMES) if rows else None


def _checkout_at_claim_sql() -> str:
    accounts, account_pk = table_column(Account, "id")
    methods, method_account = table_column(PaymentMethod, "account")
    _, is_default = table_column(PaymentMethod, "is_default")
    orders, order_account = table_column(Order, "account")
    _, order_key = table_column(Order, "idempotency_key")
    _, order_pk = table_column(Order, "id")
    payments, token = table_column(Payment, "checkout_token")
    _, payment_order = table_column(Payment, "order")
    _, payment_account = table_column(Payment, "account")
    return (
        f"SELECT {columns_sql(PaymentMethod)},"  # noqa: S608 (the models' own names)
        f" (SELECT {orders}.{order_pk} FROM {orders}"
        f" WHERE {orders}.{order_account} = %s AND {orders}.{order_key} = %s),"
        # Counted among the checkout's payments (its token's index), not looked up by
        # "no order yet": every attempt starts without one, so until VACUUM that index
        # holds an entry for each attempt ever made, and the planner may prefer it.
        f" (SELECT COALESCE(SUM(CASE WHEN {payments}.{payment_order} IS NULL THEN 1 ELSE 0 END),"
        f" 0) FROM {payments} WHERE {payments}.{token} = %s"
        f" AND {payments}.{payment_account} = %s)"
        f" FROM {accounts} LEFT OUTER JOIN {methods}"
        f" ON {methods}.{method_account} = {accounts}.{account_pk} AND {methods}.{is_default}"
        f" WHERE {accounts}.{account_pk} = %s"
    )


_CHECKOUT_AT_CLAIM = FixedStatement(
    _checkout_at_claim_sql(), [*PaymentMethod._meta.concrete_fields, None, None]
)


@dataclass(frozen=True)
class CheckoutAtClaim:
    """What Place order's claim reads under the account lock, in one statement."""

    order_id: int | None  # the order this checkout placed already
    open_attempts: int  # its payment attempts without an order
    payment_method: PaymentMethod | None  # the card on file


def checkout_at_claim(*, account: Account, checkout_token: str) -> CheckoutAtClaim:
    """The checkout's order id, its number of open payment attempts and the card on file.

    Read under the account lock (after it, in a statement of its own): orders
    and checkout attempts are only written under that lock, so these cannot
    change until it is released; the attempts themselves are read (and
    locked) only when there are some.
    """
    _require_transaction("checkout_at_claim")
    [row] = _CHECKOUT_AT_CLAIM.rows(
        [account.pk, checkout_token, checkout_token, account.pk, account.pk]
    )
    values = iter(row)
    method = instance_from(PaymentMethod, values, _PAYMENT_METHOD_NAMES)
    return CheckoutAtClaim(
        order_id=next(values),
        open_attempts=next(values),
        payment_method=method if method.pk is not None else None,
    )


def _checkout_attempts_sql() -> str:
    payments, token = table_column(Payment, "checkout_token")
    _, payment_account = table_column(Payment, "account")
    _, method = table_column(Payment, "payment_method")
    _, pk = table_column(Payment, "id")
    methods, method_pk = table_column(PaymentMethod, "id")
    # All the checkout's payments, found by its token's index; those with an order are
    # left out afterwards (see checkout_at_claim on why not "order IS NULL" here).
    sql = (
        f"SELECT {columns_sql(Payment)}, {columns_sql(PaymentMethod)} FROM {payments}"  # noqa: S608
        f" LEFT OUTER JOIN {methods} ON {payments}.{method} = {methods}.{method_pk}"
        f" WHERE {payments}.{token} = %s AND {payments}.{payment_account} = %s"
        f" ORDER BY {payments}.{pk} DESC"
    )
    return _for_update(sql, of=Payment)


_CHECKOUT_ATTEMPTS_LOCKED = FixedStatement(
    _checkout_attempts_sql(),
    [*Payment._meta.concrete_fields, *PaymentMethod._meta.concrete_fields],
)
_PAYMENT_NAMES = attnames(Payment)


def checkout_attempts_locked(*, account: Account, checkout_token: str) -> list[Payment]:
    """The account's payment attempts for a checkout without an order, newest first,
    locked, each with its card (``select_related``)."""
    _require_transaction("checkout_attempts_locked")
    attempts = []
    for row in _CHECKOUT_ATTEMPTS_LOCKED.rows([checkout_token, account.pk]):
        values = iter(row)
        payment = instance_from(Payment, values, _PAYMENT_NAMES)
        if payment.order_id is not None:
            continue
        method = instance_from(PaymentMethod, values, _PAYMENT_METHOD_NAMES)
        Payment.payment_method.field.set_cached_value(
            payment, method if method.pk is not None else None
        )
        attempts.append(payment)
    return attempts


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
    basis = QuoteBasis(account)
    try:
        tax = basis.tax_treatment()
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
            account_credit=basis.credit(),
            at=at,
        )
    except ValueError as error:
        # E.g. a period that ended before its renewal ran: quote nothing, say why.
        review.error = quote_problem_message(error)
    return review


def account_orders(*, account: Account) -> QuerySet[Order]:
    return Order.objects.filter(account=account).order_by("-placed_at", "-id")
