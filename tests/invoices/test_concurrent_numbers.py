"""Twenty orders placed at the same instant, each in its own transaction and connection:
twenty invoices numbered 1 to 20, none twice, none skipped."""

from __future__ import annotations

import threading

import time_machine
from django.db import connection

from invoices.models import Invoice, InvoiceCounter
from subscriptions.services import tax_rates_ensure_eu_standard
from tests.checkout.helpers import place
from tests.factories import MembershipFactory, PaymentMethodFactory, SubscriptionFactory
from tests.shared_fixtures import AT, NOV_1, put_in_cart

ORDERS = 20


def test_twenty_concurrent_orders_get_twenty_consecutive_numbers(transactional_db):
    tax_rates_ensure_eu_standard()  # a transactional test starts from empty tables
    buyers = []
    for index in range(ORDERS):
        membership = MembershipFactory(account__name=f"Buyer {index}", account__country="DE")
        PaymentMethodFactory(account=membership.account)
        subscription = SubscriptionFactory(
            account=membership.account, seats=10, billing_anchor=NOV_1
        )
        put_in_cart(subscription, 12)
        buyers.append((membership.account, membership.user))
    start = threading.Barrier(ORDERS)
    errors = []

    def buy(account, admin):
        try:
            start.wait()
            place(account, admin)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()  # each thread had a database connection of its own

    with time_machine.travel(AT, tick=False):
        threads = [threading.Thread(target=buy, args=buyer) for buyer in buyers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"2026-{sequence:06d}" for sequence in range(1, ORDERS + 1)]
    assert Invoice.objects.values("order").distinct().count() == ORDERS
    assert InvoiceCounter.objects.get(kind="invoice", year=2026).last_number == ORDERS
