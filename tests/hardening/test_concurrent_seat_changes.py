"""Issue #6, hardening 2: two billing admins of one account change the same subscription at once.

An account has one cart, shared by its billing admins (``Cart.account`` is
one-to-one): each admin's "Add to cart" replaces the subscription's line and
starts a new checkout. Every change is placed under the row locks, the seat
history is a chain with nothing lost, the money follows docs/billing-rules.md
line by line, and an admin whose review went stale is charged nothing and is
shown the new numbers to confirm again.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
import time_machine
from django.core import signing
from django.db import connection
from django.test import Client
from django.urls import reverse
from moneyed import Money

from checkout.forms import REVIEW_SALT
from checkout.models import CartLine, Order
from payments.models import Payment
from subscriptions.models import CreditLedgerEntry, SeatChange, Subscription
from subscriptions.proration import QUOTE_AMOUNTS, add_months, quote_seat_change
from subscriptions.templatetags.billing import money
from tests.factories import (
    MembershipFactory,
    PaymentMethodFactory,
    SeatAssignmentFactory,
    SubscriptionFactory,
    UserFactory,
)
from tests.pages import shown
from tests.shared_fixtures import AT, NOV_1

PRICE = Money("42.00", "EUR")
VAT = Decimal("19")
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)
STALE_NOTE = "Something changed since your review"
CART_GONE_NOTE = "Your cart changed since your review. Nothing was ordered."


def signed_review(page: str) -> str | None:
    match = re.search(r'name="review" value="([^"]+)"', page)
    return match.group(1) if match else None


def review_facts(token: str) -> dict:
    return signing.loads(token, salt=REVIEW_SALT)


def edit(client: Client, subscription, seats: int):
    return client.post(
        reverse("billing_center:edit", args=[subscription.pk]), {"seats": str(seats), "add": "1"}
    )


def place(client: Client, token: str):
    return client.post(reverse("checkout:place"), {"review": token})


@pytest.fixture
def two_admins(transactional_db):
    """Acme GmbH with two billing admins, a Visa on file and Remote Support: 10 licenses,
    3 assigned, €42 a month, period Nov 1 – Dec 1."""
    anna = MembershipFactory(account__name="Acme GmbH", account__country="DE").user
    account = anna.memberships.get().account
    ben = MembershipFactory(account=account, user=UserFactory(email="ben@acme.example")).user
    PaymentMethodFactory(account=account)
    subscription = SubscriptionFactory(
        account=account, plan__product__name="Remote Support v5", seats=10, billing_anchor=NOV_1
    )
    for _ in range(3):
        SeatAssignmentFactory(subscription=subscription)
    return account, anna, ben, subscription


def signed_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


# -- The race ---------------------------------------------------------------------------


CHANGES = 20  # ten by each admin
ROUNDS = 30  # tries per change before it gives up (the other admin kept replacing the line)


def _change_seats(client: Client, subscription, target: int, log: list) -> None:
    """One change: edit → add to cart → review → place, again while it goes stale.

    The admin only confirms a review that shows their own number; a stale review
    (409) that still shows it is confirmed again, as the page asks.
    """
    for _ in range(ROUNDS):
        added = edit(client, subscription, target)
        log.append(("edit", target, added.status_code, ""))
        if added.status_code != 302:
            continue  # refused by the rules as things stand now: try again
        page = client.get(reverse("checkout:review")).content.decode()
        while (token := signed_review(page)) and f"→ {target}</td>" in page:
            response = place(client, token)
            page = response.content.decode()
            log.append(("place", target, response.status_code, page))
            if response.status_code == 302:
                return
            if response.status_code != 409:
                break
        # The other admin's line replaced ours, or their order emptied the cart: edit again.
    log.append(("gave up", target, 0, ""))


def _admin_at_work(client: Client, subscription, targets: list[int], log: list, start) -> None:
    """An admin making their ten changes, each started together with the other admin's."""
    try:
        for target in targets:
            start.wait(timeout=120)
            _change_seats(client, subscription, target, log)
    except Exception as error:  # reported in the log, asserted on below
        log.append(("exception", 0, 0, repr(error)))
        start.abort()
    finally:
        connection.close()


def test_twenty_racing_seat_changes_from_two_admins_each_apply_once_and_add_up(two_admins):
    account, anna, ben, subscription = two_admins
    # Twenty different counts, up and down, none the current 10 and none below the 3 assigned.
    targets = random.Random(6).sample([n for n in range(3, 40) if n != 10], CHANGES)
    log: list = []
    start = threading.Barrier(2)
    with time_machine.travel(AT, tick=True):
        threads = [
            threading.Thread(
                target=_admin_at_work,
                args=(signed_in(admin), subscription, targets[offset::2], log, start),
            )
            for offset, admin in enumerate((anna, ben))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
    assert not any(thread.is_alive() for thread in threads)

    outcomes = Counter(kind for kind, *_ in log)
    assert outcomes["exception"] == 0, [entry for entry in log if entry[0] == "exception"]
    assert all(status < 500 for kind, _, status, _ in log if kind in ("edit", "place")), outcomes
    placed = [target for kind, target, status, _ in log if kind == "place" and status == 302]
    gave_up = [target for kind, target, *_ in log if kind == "gave up"]
    assert sorted(placed + gave_up) == sorted(targets)
    assert gave_up == [], outcomes  # every change got through in the end

    # Every stale click was told so and shown the new numbers to confirm, never charged.
    stale = [page for kind, _, status, page in log if kind == "place" and status == 409]
    assert stale, "the admins never got in each other's way"
    for page in stale:
        note = shown(page, "review-note")
        if note == CART_GONE_NOTE:
            assert signed_review(page) is None and "Your cart is empty." in page
            continue
        assert STALE_NOTE in note
        again = review_facts(signed_review(page))  # the new review, to confirm again
        assert shown(page, "amount-due") == money(Money(again["due"], "EUR"))

    # The history is one chain: each change starts where the previous one ended.
    changes = list(SeatChange.objects.filter(subscription=subscription).order_by("id"))
    assert sorted(change.to_seats for change in changes) == sorted(placed)
    assert changes[0].from_seats == 10
    for previous, change in pairwise(changes):
        assert change.from_seats == previous.to_seats
        assert change.at >= previous.at
    subscription.refresh_from_db()
    assert sum(c.to_seats - c.from_seats for c in changes) == subscription.seats - 10
    assert subscription.seats == changes[-1].to_seats  # no lost update
    assert subscription.version == 1 + len(changes)
    assert subscription.current_period_start == changes[-1].at
    assert subscription.current_period_end == add_months(changes[-1].at, 1)
    assert_money_follows_the_seat_timeline(account, subscription, changes)


def assert_money_follows_the_seat_timeline(account, subscription, changes) -> None:
    """Re-quote every change from the history alone (docs/billing-rules.md steps 1-6) and compare
    with its order, its ledger entries and its payment."""
    balance = Money("0.00", "EUR")
    start, end = NOV_1, DEC_1
    charged = Money("0.00", "EUR")
    for change in changes:
        expected = quote_seat_change(
            unit_price=PRICE,
            interval="month",
            current_seats=change.from_seats,
            new_seats=change.to_seats,
            period_start=start,
            period_end=end,
            at=change.at,
            tax_rate=VAT,
            account_credit=balance,
        )
        order = Order.objects.get(number=change.order_reference)
        for name in QUOTE_AMOUNTS:
            assert getattr(order, name) == getattr(expected, name), (name, change.to_seats)
        line = order.lines.get()
        assert (line.from_seats, line.to_seats) == (change.from_seats, change.to_seats)
        assert (line.period_start, line.period_end) == (start, end)
        assert (line.new_period_start, line.new_period_end) == (change.at, add_months(change.at, 1))
        entries = CreditLedgerEntry.objects.filter(account=account, reference=order.number)
        assert sum((e.amount for e in entries), Money("0.00", "EUR")) == (
            expected.credit_added - expected.credit_applied
        )
        payments = list(order.payments.all())
        if expected.amount_due.amount:
            assert [(p.status, p.amount) for p in payments] == [
                (Payment.Status.SUCCEEDED, expected.amount_due)
            ]
            charged += expected.amount_due
        else:
            assert payments == []
        balance = balance + expected.credit_added - expected.credit_applied
        start, end = change.at, add_months(change.at, 1)
    ledger = CreditLedgerEntry.objects.filter(account=account)
    assert sum((e.amount for e in ledger), Money("0.00", "EUR")) == balance
    # Money moved only for placed orders: every other attempt was canceled, nothing refunded.
    succeeded = Payment.objects.filter(status=Payment.Status.SUCCEEDED)
    assert all(p.order_id for p in succeeded)
    assert sum((p.amount for p in succeeded), Money("0.00", "EUR")) == charged
    assert not Payment.objects.filter(status=Payment.Status.REFUNDED).exists()
    assert not Payment.objects.filter(order__isnull=True).exclude(
        status__in=[Payment.Status.CANCELED, Payment.Status.FAILED]
    )


# -- What the admin whose review went stale sees ---------------------------------------------


def test_ben_placed_first_so_annas_stale_review_charges_nothing_and_she_confirms_the_new_one(
    two_admins,
):
    _, anna, ben, subscription = two_admins
    anna_client, ben_client = signed_in(anna), signed_in(ben)
    with time_machine.travel(AT, tick=False) as clock_at:
        assert edit(anna_client, subscription, 12).status_code == 302
        annas_page = anna_client.get(reverse("checkout:review")).content.decode()
        assert shown(annas_page, "licenses") == "10 → 12"
        stale_due = shown(annas_page, "amount-due")
        annas_token = signed_review(annas_page)

        clock_at.shift(60)
        assert edit(ben_client, subscription, 14).status_code == 302
        bens_page = ben_client.get(reverse("checkout:review")).content.decode()
        assert shown(bens_page, "licenses") == "10 → 14"
        bens_order = place(ben_client, signed_review(bens_page))
        assert bens_order.status_code == 302

        clock_at.shift(60)
        stale = place(anna_client, annas_token)
        page = stale.content.decode()
        assert stale.status_code == 409
        assert shown(page, "review-note") == CART_GONE_NOTE
        assert stale_due not in page
        # Nothing of Anna's stale total was charged or even attempted beyond a canceled claim.
        assert Order.objects.count() == 1
        assert Payment.objects.filter(status=Payment.Status.SUCCEEDED).count() == 1
        subscription.refresh_from_db()
        assert subscription.seats == 14

        # She goes back, chooses 12 again, and sees the change from Ben's 14, re-quoted now.
        assert edit(anna_client, subscription, 12).status_code == 302
        page = anna_client.get(reverse("checkout:review")).content.decode()
        ben_at = AT + timedelta(seconds=60)
        expected = quote_seat_change(
            unit_price=PRICE,
            interval="month",
            current_seats=14,
            new_seats=12,
            period_start=ben_at,
            period_end=add_months(ben_at, 1),
            at=AT + timedelta(seconds=120),
            tax_rate=VAT,
            account_credit=Money("0.00", "EUR"),
        )
        assert shown(page, "licenses") == "14 → 12"
        assert shown(page, "credit") == "−" + money(expected.credit)
        assert shown(page, "total") == money(expected.total)
        assert shown(page, "credit-added") == money(expected.credit_added)
        assert shown(page, "amount-due") == money(Money("0.00", "EUR"))
        confirmed = place(anna_client, signed_review(page))
        assert confirmed.status_code == 302

    order = Order.objects.get(placed_by=anna)
    assert confirmed["Location"] == reverse("checkout:order", args=[order.number])
    assert (order.total, order.credit_added, order.amount_due) == (
        expected.total,
        expected.credit_added,
        Money("0.00", "EUR"),
    )
    assert list(SeatChange.objects.order_by("id").values_list("from_seats", "to_seats")) == [
        (10, 14),
        (14, 12),
    ]
    assert Payment.objects.filter(status=Payment.Status.SUCCEEDED).count() == 1
    assert CreditLedgerEntry.objects.get().amount == expected.credit_added


def test_ben_changed_the_cart_so_anna_sees_the_requoted_review_and_must_confirm_again(two_admins):
    _, anna, ben, subscription = two_admins
    anna_client, ben_client = signed_in(anna), signed_in(ben)
    with time_machine.travel(AT, tick=False) as clock_at:
        assert edit(anna_client, subscription, 12).status_code == 302
        annas_page = anna_client.get(reverse("checkout:review")).content.decode()
        annas_token = signed_review(annas_page)
        reviewed = quote_seat_change(
            unit_price=PRICE,
            interval="month",
            current_seats=10,
            new_seats=12,
            period_start=NOV_1,
            period_end=DEC_1,
            at=AT,
            tax_rate=VAT,
            account_credit=Money("0.00", "EUR"),
        )
        assert shown(annas_page, "amount-due") == money(reviewed.amount_due)

        clock_at.shift(30)
        assert edit(ben_client, subscription, 14).status_code == 302

        clock_at.shift(30)
        stale = place(anna_client, annas_token)
        page = stale.content.decode()
        assert stale.status_code == 409
        assert STALE_NOTE in shown(page, "review-note")
        requoted = quote_seat_change(
            unit_price=PRICE,
            interval="month",
            current_seats=10,
            new_seats=14,
            period_start=NOV_1,
            period_end=DEC_1,
            at=AT + timedelta(seconds=60),
            tax_rate=VAT,
            account_credit=Money("0.00", "EUR"),
        )
        # The page shows what the cart holds now, quoted now, and a new review to place.
        assert shown(page, "licenses") == "10 → 14"
        assert shown(page, "amount-due") == money(requoted.amount_due)
        assert requoted.amount_due != reviewed.amount_due
        again = signed_review(page)
        assert again is not None and again != annas_token
        assert review_facts(again)["due"] == str(requoted.amount_due.amount)
        assert not Order.objects.exists()
        assert not Payment.objects.filter(status=Payment.Status.SUCCEEDED).exists()
        assert CartLine.objects.get().new_seats == 14

        # The stale token stays stale; only the new review can be placed.
        assert place(anna_client, annas_token).status_code == 409
        assert not Order.objects.exists()
        confirmed = place(anna_client, again)
        assert confirmed.status_code == 302

    order = Order.objects.get()
    assert (order.placed_by, order.amount_due) == (anna, requoted.amount_due)
    assert order.lines.get().to_seats == 14
    payment = Payment.objects.get(status=Payment.Status.SUCCEEDED)
    assert (payment.order, payment.amount) == (order, requoted.amount_due)
    assert Subscription.objects.get(pk=subscription.pk).seats == 14
