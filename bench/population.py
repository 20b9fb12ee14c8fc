"""The benchmark's data: bulk-inserted accounts with signed-in billing admins, and the check
that what the load generator placed is what the database holds afterwards.

Import after ``django.setup()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.db.models import Count, Sum
from django.utils.crypto import get_random_string
from moneyed import Money

from bench.floor import FloorCounter, FloorLog, floor_tables_create
from bench.flows import Admin
from checkout.models import Cart, CartLine, Order, OrderLine
from payments.models import Payment, PaymentMethod
from subscriptions.models import (
    Account,
    Membership,
    Plan,
    Product,
    SeatAssignment,
    SeatChange,
    Subscription,
    User,
)
from subscriptions.proration import period_end

CHUNK = 2_000
PRODUCTS = (("Remote Support", "42.00"), ("Device Cloud", "13.33"), ("Backup", "7.50"))
# Domestic VAT, another EU country's VAT (no VAT number yet), and a non-EU customer.
COUNTRIES = ("DE", "DE", "DE", "AT", "FR", "US")
SESSION_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class PlaceAccount:
    index: int
    account_id: int
    subscription_id: int
    seats: int
    session_key: str

    def admin(self) -> Admin:
        """The load client's signed-in billing admin of this account."""
        return Admin.signed_in(
            session_key=self.session_key,
            index=self.index,
            account_id=self.account_id,
            subscription_id=self.subscription_id,
            seats=self.seats,
        )


@dataclass(frozen=True)
class Population:
    place: list[PlaceAccount]  # accounts whose admins check out, one subscription each
    read: list[str]  # session keys of admins with several subscriptions and a cart


def _auth_backend() -> str:
    backends = list(settings.AUTHENTICATION_BACKENDS)
    model_backend = "django.contrib.auth.backends.ModelBackend"
    return model_backend if model_backend in backends else backends[0]


def _sessions_create(users: list[User], now: datetime) -> list[str]:
    """A signed-in session per user, as logging in would leave it (without the hashing)."""
    store = SessionStore()
    backend = _auth_backend()
    rows = [
        Session(
            session_key=get_random_string(32, SESSION_CHARS),
            session_data=store.encode(
                {
                    SESSION_KEY: str(user.pk),
                    BACKEND_SESSION_KEY: backend,
                    HASH_SESSION_KEY: user.get_session_auth_hash(),
                }
            ),
            expire_date=now + timedelta(days=1),
        )
        for user in users
    ]
    Session.objects.bulk_create(rows)
    return [row.session_key for row in rows]


def _accounts_create(prefix: str, numbers: range, now: datetime) -> tuple[list, list]:
    accounts = Account.objects.bulk_create(
        Account(
            name=f"Bench {prefix} customer {n}",
            country=COUNTRIES[n % len(COUNTRIES)],
            currency="EUR",
            time_zone="Europe/Berlin",
        )
        for n in numbers
    )
    users = User.objects.bulk_create(
        User(email=f"{prefix}{n}@bench.example", password="!", language="en") for n in numbers
    )
    Membership.objects.bulk_create(
        Membership(user=user, account=account, role=Membership.Role.BILLING_ADMIN)
        for user, account in zip(users, accounts, strict=True)
    )
    PaymentMethod.objects.bulk_create(
        PaymentMethod(
            account=account,
            gateway=PaymentMethod.Gateway.SANDBOX,
            gateway_reference=f"sandbox_pm_bench_{prefix}_{account.pk}",
            brand="Visa",
            last4="4242",
            exp_month=12,
            exp_year=now.year + 4,
        )
        for account in accounts
    )
    return accounts, users


def seed(*, place_accounts: int, read_accounts: int, now: datetime) -> Population:
    """Bulk-insert both groups of accounts, their subscriptions, carts and sessions.

    Every subscription is active, its period started three days before ``now``.
    Checkout accounts have two subscriptions (the first is the one changed);
    reading accounts have three, some licenses assigned, and a cart with two
    lines so the review page has a real quote to show. Each account has a
    billing admin with a Visa card on file in the sandbox gateway.
    """
    products = Product.objects.bulk_create(Product(name=f"Bench {name}") for name, _ in PRODUCTS)
    plans = Plan.objects.bulk_create(
        Plan(product=product, interval="month", price=Money(price, "EUR"), max_seats=100_000)
        for product, (_, price) in zip(products, PRODUCTS, strict=True)
    )
    start = now - timedelta(days=3)
    end = period_end(start, "month")

    def subscription(account: Account, plan: Plan, seats: int) -> Subscription:
        return Subscription(
            account=account,
            plan=plan,
            status=Subscription.Status.ACTIVE,
            seats=seats,
            billing_anchor=start,
            current_period_start=start,
            current_period_end=end,
        )

    place: list[PlaceAccount] = []
    for first in range(0, place_accounts, CHUNK):
        numbers = range(first, min(first + CHUNK, place_accounts))
        accounts, users = _accounts_create("checkout", numbers, now)
        changed = Subscription.objects.bulk_create(
            subscription(account, plans[0], 5 + n % 20)
            for n, account in zip(numbers, accounts, strict=True)
        )
        Subscription.objects.bulk_create(subscription(account, plans[1], 3) for account in accounts)
        keys = _sessions_create(users, now)
        place += [
            PlaceAccount(n, account.pk, sub.pk, sub.seats, key)
            for n, account, sub, key in zip(numbers, accounts, changed, keys, strict=True)
        ]

    read: list[str] = []
    for first in range(0, read_accounts, CHUNK):
        numbers = range(first, min(first + CHUNK, read_accounts))
        accounts, users = _accounts_create("reader", numbers, now)
        subscriptions = Subscription.objects.bulk_create(
            subscription(account, plan, 10 + n % 7)
            for n, account in zip(numbers, accounts, strict=True)
            for plan in plans
        )
        SeatAssignment.objects.bulk_create(
            SeatAssignment(subscription=sub, user=user)
            for sub, user in zip(subscriptions[:: len(plans)], users, strict=True)
        )
        carts = Cart.objects.bulk_create(Cart(account=account) for account in accounts)
        CartLine.objects.bulk_create(
            CartLine(cart=cart, subscription=sub, new_seats=sub.seats + 2, added_at=now)
            for index, cart in enumerate(carts)
            for sub in subscriptions[index * len(plans) : index * len(plans) + 2]
        )
        read += _sessions_create(users, now)

    floor_tables_create(max(1, place_accounts))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics after a bulk load, as autovacuum would give
    return Population(place=place, read=read)


def seed_billing_center(*, sizes: tuple[int, ...], now: datetime) -> dict[int, User]:
    """One account per size with that many subscriptions; its billing admin by size.

    As the pages benchmark's reading accounts: active subscriptions whose period
    started three days before ``now``, one license of the first assigned, a cart
    with a line for each of the first two, a Visa card on file. An account has one
    open subscription per plan, so there are as many products as the largest size.
    """
    products = Product.objects.bulk_create(
        Product(name=f"Bench scaling product {n:03}") for n in range(max(sizes))
    )
    plans = Plan.objects.bulk_create(
        Plan(product=product, interval="month", price=Money("9.00", "EUR"), max_seats=100_000)
        for product in products
    )
    start = now - timedelta(days=3)
    end = period_end(start, "month")
    accounts, users = _accounts_create("scaling", range(len(sizes)), now)
    admins: dict[int, User] = {}
    for size, account, user in zip(sizes, accounts, users, strict=True):
        subscriptions = Subscription.objects.bulk_create(
            Subscription(
                account=account,
                plan=plan,
                status=Subscription.Status.ACTIVE,
                seats=5 + n % 7,
                billing_anchor=start,
                current_period_start=start,
                current_period_end=end,
            )
            for n, plan in enumerate(plans[:size])
        )
        SeatAssignment.objects.create(subscription=subscriptions[0], user=user)
        cart = Cart.objects.create(account=account)
        CartLine.objects.bulk_create(
            CartLine(cart=cart, subscription=sub, new_seats=sub.seats + 2, added_at=now)
            for sub in subscriptions[:2]
        )
        admins[size] = user
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return admins


def verify(*, admins, floor_requests: int) -> dict:
    """What the load generator saw placed against what the database holds.

    ``admins`` are the load generator's ``Admin`` objects (their order numbers
    and the licenses each now expects). Returns the counts and a list of
    problems; an empty list means every redirect to an order page was a real
    order, paid once, with its lines, history and subscription in agreement.
    """
    problems: list[str] = []
    account_ids = [admin.account_id for admin in admins]
    seen_numbers = {number for admin in admins for number in admin.orders}
    orders = Order.objects.filter(account_id__in=account_ids)
    numbers = set(orders.values_list("number", flat=True))
    if numbers != seen_numbers:
        problems.append(
            f"{len(seen_numbers)} orders seen by the client, {len(numbers)} in the database"
            f" ({len(seen_numbers - numbers)} missing, {len(numbers - seen_numbers)} unseen)"
        )
    payments = Payment.objects.filter(account_id__in=account_ids)
    by_status = dict(payments.values_list("status").annotate(n=Count("id")).order_by())
    if set(by_status) - {Payment.Status.SUCCEEDED}:
        problems.append(f"payments not all succeeded: {by_status}")
    unlinked = payments.filter(order__isnull=True).count()
    if unlinked:
        problems.append(f"{unlinked} payments without an order")
    due = orders.filter(amount_due__gt=0)
    doubly_paid = due.annotate(paid=Count("payments")).exclude(paid=1).count()
    if doubly_paid:
        problems.append(f"{doubly_paid} orders with money due do not have exactly one payment")
    amount_due = orders.aggregate(total=Sum("amount_due"))["total"] or Decimal(0)
    amount_paid = payments.aggregate(total=Sum("amount"))["total"] or Decimal(0)
    if amount_due != amount_paid:
        problems.append(f"orders ask {amount_due}, payments took {amount_paid}")
    line_totals = dict(
        OrderLine.objects.filter(order__in=orders)
        .values_list("order_id")
        .annotate(total=Sum("total"))
        .order_by()
    )
    order_totals = dict(orders.values_list("id", "total"))
    mismatched = [pk for pk, total in order_totals.items() if line_totals.get(pk) != total]
    if mismatched:
        problems.append(f"{len(mismatched)} orders whose lines do not add up to their total")

    expected_seats = {admin.subscription_id: admin.seats for admin in admins}
    actual_seats = dict(
        Subscription.objects.filter(pk__in=expected_seats).values_list("pk", "seats")
    )
    wrong_seats = [pk for pk, seats in expected_seats.items() if actual_seats.get(pk) != seats]
    if wrong_seats:
        problems.append(f"{len(wrong_seats)} subscriptions without the licenses last ordered")
    changes = SeatChange.objects.filter(subscription_id__in=expected_seats)
    lines = OrderLine.objects.filter(order__in=orders)
    if changes.count() != lines.count():
        problems.append(f"{changes.count()} seat changes recorded for {lines.count()} order lines")
    licenses_added = sum(
        to_seats - from_seats
        for to_seats, from_seats in lines.values_list("to_seats", "from_seats")
    )
    if licenses_added != len(seen_numbers):
        problems.append(f"{licenses_added} licenses added by {len(seen_numbers)} orders (one each)")
    left_in_carts = CartLine.objects.filter(cart__account_id__in=account_ids).count()
    if left_in_carts:
        problems.append(f"{left_in_carts} cart lines left after their orders")

    floor_rows = FloorLog.objects.count()
    floor_hits = FloorCounter.objects.aggregate(total=Sum("hits"))["total"] or 0
    if not floor_rows == floor_hits == floor_requests:
        problems.append(
            f"floor: {floor_requests} redirects, {floor_rows} rows inserted, {floor_hits} updates"
        )
    emails = dict(orders.values_list("email_status").annotate(n=Count("id")).order_by())
    return {
        "orders": len(numbers),
        "orders_seen_by_client": len(seen_numbers),
        "payments": by_status,
        "amount_due_total": str(amount_due),
        "amount_paid_total": str(amount_paid),
        "licenses_added": licenses_added,
        "order_lines": lines.count(),
        "seat_changes": changes.count(),
        "confirmation_emails": emails,
        "floor_rows_inserted": floor_rows,
        "problems": problems,
    }
