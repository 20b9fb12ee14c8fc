"""The data set of bench/renewals.py: accounts with due subscriptions, bulk-inserted.

Accounts with a billing admin and a card, four monthly products each; some cards
decline, some accounts have credit, some subscriptions cancel at period end.
Every period ends in November 2026; the renewal runs at ``AT``. Django is imported
inside ``build``: the parent process of bench/renewals.py never imports it.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

# Every subscription's period ends in November 2026; the renewal runs on December 1st.
AT = datetime(2026, 12, 1, tzinfo=UTC)
PRODUCTS_PER_ACCOUNT = 4
CHUNK = 5_000


def build(subscriptions: int) -> dict:
    """Bulk-insert the accounts, people, cards, credit and due subscriptions."""
    from django.core.management import call_command
    from moneyed import Money

    from payments.models import PaymentMethod
    from subscriptions.models import (
        Account,
        CreditLedgerEntry,
        Membership,
        Plan,
        Product,
        Subscription,
        User,
    )
    from subscriptions.proration import period_end

    call_command("migrate", verbosity=0)
    products = Product.objects.bulk_create(
        Product(name=f"Bench product {n}") for n in range(PRODUCTS_PER_ACCOUNT)
    )
    plans = Plan.objects.bulk_create(
        Plan(product=product, interval="month", price=Money(price, "EUR"), max_seats=10_000)
        for product, price in zip(products, ("42.00", "13.33", "7.50", "99.00"), strict=True)
    )
    accounts = -(-subscriptions // PRODUCTS_PER_ACCOUNT)
    counts = {"declining_cards": 0, "accounts_with_credit": 0, "cancel_at_period_end": 0}
    made = 0
    for first in range(0, accounts, CHUNK):
        numbers = range(first, min(first + CHUNK, accounts))
        countries = ("DE", "DE", "DE", "FR", "AT", "US")
        batch = Account.objects.bulk_create(
            Account(
                name=f"Bench customer {n}",
                country=countries[n % len(countries)],
                currency="EUR",
                time_zone="Europe/Berlin",
            )
            for n in numbers
        )
        users = User.objects.bulk_create(
            User(email=f"admin{n}@bench.example", password="!", language="de" if n % 3 else "en")
            for n in numbers
        )
        Membership.objects.bulk_create(
            Membership(user=user, account=account, role="billing_admin")
            for user, account in zip(users, batch, strict=True)
        )
        methods = []
        for n, account in zip(numbers, batch, strict=True):
            declines = n % 50 == 7  # 2 % of the cards decline
            counts["declining_cards"] += declines
            methods.append(
                PaymentMethod(
                    account=account,
                    gateway="sandbox",
                    gateway_reference=f"sandbox_pm_bench_{n}",
                    brand="Visa",
                    last4="0002" if declines else "4242",
                    exp_month=12,
                    exp_year=2030,
                )
            )
        PaymentMethod.objects.bulk_create(methods)
        credit = [account for n, account in zip(numbers, batch, strict=True) if n % 20 == 3]
        counts["accounts_with_credit"] += len(credit)
        CreditLedgerEntry.objects.bulk_create(
            CreditLedgerEntry(account=account, amount=Money("50.00", "EUR"), reason="goodwill")
            for account in credit
        )
        rows = []
        for n, account in zip(numbers, batch, strict=True):
            for index, plan in enumerate(plans):
                if made >= subscriptions:
                    break
                # Anchors on every day of October, the 31st included (→ Nov 30 → Dec 31).
                anchor = datetime(2026, 10, 1 + (n + index) % 31, 9, 30, tzinfo=UTC)
                cancels = (n * PRODUCTS_PER_ACCOUNT + index) % 100 == 42  # 1 %
                counts["cancel_at_period_end"] += cancels
                rows.append(
                    Subscription(
                        account=account,
                        plan=plan,
                        status="active",
                        seats=1 + (n * 7 + index) % 40,
                        billing_anchor=anchor,
                        current_period_start=anchor,
                        current_period_end=period_end(anchor, "month"),
                        cancel_at_period_end=cancels,
                    )
                )
                made += 1
        Subscription.objects.bulk_create(rows)
        print(f"\rbuilt {made:,}/{subscriptions:,} subscriptions", end="", flush=True)
    print()
    # Fresh statistics after a bulk load, as autovacuum would give (it may be off, as on a
    # CI server): without them the planner guesses a dozen accounts and loops over each.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    # The load's (and an earlier benchmark's) dirty pages written out now, not during the
    # measured run. Needs a superuser or pg_checkpoint; without, the run goes on.
    from django.db import DatabaseError

    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError as error:
        print(f"no CHECKPOINT before the run: {error}".strip(), file=sys.stderr)
    return {"accounts": accounts, **counts}
