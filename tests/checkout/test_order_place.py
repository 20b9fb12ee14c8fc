"""order_place: one atomic order per checkout, every amount from the quote, or nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core import mail
from moneyed import Money

from checkout.models import Cart, Order
from checkout.selectors import cart_review
from checkout.services import (
    ReviewOutdated,
    order_place,
)
from payments.gateways import SandboxGateway
from payments.models import Payment
from subscriptions.credit import credit_balance
from subscriptions.models import CreditLedgerEntry, SeatChange, Subscription
from subscriptions.proration import quote_seat_change
from tests.checkout.conftest import AT, NOV_1, put_in_cart
from tests.checkout.helpers import place

pytestmark = pytest.mark.django_db


def test_placing_the_help_page_change_updates_everything(
    frozen_now, admin, account, remote_support, django_capture_on_commit_callbacks
):
    put_in_cart(remote_support, 7)
    with django_capture_on_commit_callbacks(execute=True):
        order = place(account, admin)
    expected = quote_seat_change(
        unit_price=Money("42.00", "EUR"),
        interval="month",
        current_seats=10,
        new_seats=7,
        period_start=NOV_1,
        period_end=datetime(2026, 12, 1, tzinfo=UTC),
        at=AT,
        tax_rate=Decimal("19"),
        account_credit=Money("0", "EUR"),
    )
    order.refresh_from_db()
    assert (
        (order.credit, order.charge, order.tax, order.total, order.amount_due)
        == (
            expected.credit,
            expected.charge,
            expected.tax,
            expected.total,
            expected.amount_due,
        )
        == (
            Money("63.00", "EUR"),
            Money("294.00", "EUR"),
            Money("43.89", "EUR"),
            Money("274.89", "EUR"),
            Money("274.89", "EUR"),
        )
    )
    line = order.lines.get()
    assert (line.from_seats, line.to_seats, line.credit, line.total) == (
        10,
        7,
        Money("63.00", "EUR"),
        Money("274.89", "EUR"),
    )
    assert line.new_period_start == AT
    assert line.new_period_end == datetime(2026, 12, 26, 12, tzinfo=UTC)

    remote_support.refresh_from_db()
    assert remote_support.seats == 7
    assert remote_support.billing_anchor == remote_support.current_period_start == AT
    assert remote_support.current_period_end == datetime(2026, 12, 26, 12, tzinfo=UTC)
    assert remote_support.version == 2

    change = SeatChange.objects.get()
    assert (change.from_seats, change.to_seats, change.at, change.changed_by) == (10, 7, AT, admin)
    assert (change.channel, change.order_reference) == ("portal", order.number)

    payment = Payment.objects.get()
    assert (payment.order, payment.amount, payment.status, payment.gateway) == (
        order,
        Money("274.89", "EUR"),
        "succeeded",
        "sandbox",
    )
    assert not Cart.objects.get(account=account).lines.exists()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["anna@acme.example"]
    assert order.number in mail.outbox[0].subject


def test_the_same_checkout_placed_twice_is_one_order_and_one_charge(
    frozen_now, admin, account, remote_support, django_capture_on_commit_callbacks
):
    put_in_cart(remote_support, 7)
    token = Cart.objects.get(account=account).checkout_token
    fingerprint = cart_review(account=account, at=AT).quote.fingerprint()
    with django_capture_on_commit_callbacks(execute=True):
        due = Money("274.89", "EUR")
        first = place(account, admin, token=token, fingerprint=fingerprint, amount_due=due)
        second = place(account, admin, token=token, fingerprint=fingerprint, amount_due=due)
    assert first == second
    assert (Order.objects.count(), Payment.objects.count(), SeatChange.objects.count()) == (1, 1, 1)
    assert len(mail.outbox) == 1


def test_the_placed_count_is_the_new_starting_point(frozen_now, admin, account, remote_support):
    put_in_cart(remote_support, 3)
    order = place(account, admin)
    # credit 63.00, charge 3 × 42 = 126.00, subtotal 63.00, tax 11.97: 74.97 due.
    assert order.amount_due == Money("74.97", "EUR")
    put_in_cart(remote_support, 3)  # 3 → 3 is no change any more: refused at review
    assert "already has 3 licenses" in next(
        iter(cart_review(account=account, at=AT).problems.values())
    )


def test_negative_total_goes_to_the_ledger(frozen_now, admin, account):
    from tests.factories import SubscriptionFactory

    # 20 licenses, 10 days into a 30-day period: unused 20/30.
    subscription = SubscriptionFactory(
        account=account, seats=20, billing_anchor=datetime(2026, 11, 16, 12, tzinfo=UTC)
    )
    put_in_cart(subscription, 5)
    order = place(account, admin)
    # credit = 20 × 42 × 20/30 = 560.00; charge 5 × 42 = 210.00; subtotal -350.00;
    # tax -66.50; total -416.50 → 416.50 credit added, nothing charged.
    assert order.credit_added == Money("416.50", "EUR")
    assert order.amount_due == Money("0.00", "EUR")
    assert not Payment.objects.exists()
    assert credit_balance(account) == Money("416.50", "EUR")
    entry = CreditLedgerEntry.objects.get()
    assert (entry.reason, entry.reference, entry.created_by) == (
        "seat_change_credit",
        order.number,
        admin,
    )


def test_account_credit_pays_first_and_is_used_from_the_ledger(
    frozen_now, admin, account, remote_support
):
    CreditLedgerEntry.objects.create(account=account, amount=Money("100", "EUR"), reason="goodwill")
    put_in_cart(remote_support, 7)
    order = place(account, admin)
    assert order.credit_applied == Money("100.00", "EUR")
    assert order.amount_due == Money("174.89", "EUR")
    assert Payment.objects.get().amount == Money("174.89", "EUR")
    assert credit_balance(account) == Money("0.00", "EUR")


@pytest.mark.parametrize(
    "change_after_review",
    [
        lambda sub: Subscription.objects.filter(pk=sub.pk).update(seats=11),
        lambda sub: sub.plan.__class__.objects.filter(pk=sub.plan_id).update(price=43),
        lambda sub: CreditLedgerEntry.objects.create(
            account=sub.account, amount=Money("5", "EUR"), reason="goodwill"
        ),
        lambda sub: sub.account.__class__.objects.filter(pk=sub.account_id).update(country="AT"),
        lambda sub: Subscription.objects.filter(pk=sub.pk).update(
            current_period_start=datetime(2026, 11, 2, tzinfo=UTC)
        ),
    ],
    ids=["seats", "price", "credit", "tax", "period"],
)
def test_anything_changed_since_the_review_places_nothing(
    frozen_now, admin, account, remote_support, change_after_review
):
    put_in_cart(remote_support, 7)
    reviewed = cart_review(account=account, at=AT).quote
    change_after_review(remote_support)
    with pytest.raises(ReviewOutdated) as outdated:
        place(account, admin, fingerprint=reviewed.fingerprint(), amount_due=reviewed.amount_due)
    assert outdated.value.review is not None
    assert not Order.objects.exists() and not SeatChange.objects.exists()
    assert Cart.objects.get(account=account).lines.count() == 1


def test_a_cart_changed_after_the_review_places_nothing(frozen_now, admin, account, remote_support):
    put_in_cart(remote_support, 7)
    old_token = Cart.objects.get(account=account).checkout_token
    fingerprint = cart_review(account=account, at=AT).quote.fingerprint()
    from checkout.cart import cart_line_set

    cart_line_set(account=account, subscription=remote_support, new_seats=8, assigned_seats=3)
    with pytest.raises(ReviewOutdated):
        place(account, admin, token=old_token, fingerprint=fingerprint)
    assert not Order.objects.exists()


def test_an_expired_trial_is_bought_from_zero(frozen_now, admin, account):
    from tests.factories import SubscriptionFactory

    trial = SubscriptionFactory(
        account=account,
        status=Subscription.Status.EXPIRED,
        seats=0,
        billing_anchor=datetime(2026, 10, 1, tzinfo=UTC),
        current_period_end=datetime(2026, 10, 31, tzinfo=UTC),
        trial_end=datetime(2026, 10, 31, tzinfo=UTC),
        plan__price=Money("19.00", "EUR"),
    )
    put_in_cart(trial, 5)
    order = place(account, admin)
    # 5 × 19.00 = 95.00, VAT 18.05, total 113.05; no credit.
    assert (order.credit, order.amount_due) == (Money("0.00", "EUR"), Money("113.05", "EUR"))
    trial.refresh_from_db()
    assert (trial.status, trial.seats, trial.billing_anchor) == ("active", 5, AT)
    assert order.lines.get().from_seats == 0


def test_a_review_older_than_15_minutes_cannot_be_placed(
    frozen_now, admin, account, remote_support
):
    put_in_cart(remote_support, 3)
    quoted_at = AT
    fingerprint = cart_review(account=account, at=quoted_at).quote.fingerprint()
    frozen_now.shift(15 * 60 + 1)
    with pytest.raises(ReviewOutdated, match="too old"):
        place(account, admin, at=quoted_at, fingerprint=fingerprint)
    assert not Order.objects.exists()


def test_concurrent_place_order_requests_make_one_order(transactional_db):
    """Eight threads, eight database connections, one checkout: one order, one charge."""
    import threading

    from django.db import connection

    from tests.factories import MembershipFactory, PaymentMethodFactory, SubscriptionFactory

    membership = MembershipFactory()
    account, admin = membership.account, membership.user
    PaymentMethodFactory(account=account)
    with __import__("time_machine").travel(AT, tick=False):
        subscription = SubscriptionFactory(account=account, seats=10, billing_anchor=NOV_1)
        put_in_cart(subscription, 7)
        token = Cart.objects.get(account=account).checkout_token
        fingerprint = cart_review(account=account, at=AT).quote.fingerprint()
        results, errors = [], []
        start = threading.Barrier(8)

        def place_once():
            try:
                start.wait()
                results.append(
                    order_place(
                        account=account,
                        placed_by=admin,
                        checkout_token=token,
                        quoted_at=AT,
                        fingerprint=fingerprint,
                        amount_due=Money("274.89", "EUR"),
                    ).pk
                )
            except Exception as error:
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=place_once) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert len(set(results)) == 1 and len(results) == 8
    assert (Order.objects.count(), Payment.objects.count(), SeatChange.objects.count()) == (1, 1, 1)
    subscription.refresh_from_db()
    assert (subscription.seats, subscription.version) == (7, 2)


def test_a_review_whose_period_ended_before_placing_is_refused(admin, account):
    """The renewal of the next period may already be running: review again."""
    from tests.factories import SubscriptionFactory

    subscription = SubscriptionFactory(account=account, seats=10, billing_anchor=NOV_1)
    put_in_cart(subscription, 12)
    quoted_at = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    with __import__("time_machine").travel(quoted_at, tick=False) as clock_at:
        fingerprint = cart_review(account=account, at=quoted_at).quote.fingerprint()
        due = cart_review(account=account, at=quoted_at).quote.amount_due
        clock_at.move_to(datetime(2026, 12, 1, 0, 5, tzinfo=UTC))  # the period ended at 00:00
        with pytest.raises(ReviewOutdated, match="period ended"):
            place(account, admin, at=quoted_at, fingerprint=fingerprint, amount_due=due)
    assert not Order.objects.exists()
    subscription.refresh_from_db()
    assert subscription.seats == 10


def test_a_payment_gone_before_its_order_is_recorded_leaves_nothing_placed(
    frozen_now, admin, account, remote_support
):
    """The payment's update is the last of Place order's writes, sent together with
    the others; if it changes no row, the whole order is rolled back."""
    from django.db import DatabaseError

    class PaymentVanishes(SandboxGateway):
        def confirm(self, *, payment):
            Payment.objects.filter(pk=payment.pk).delete()  # in the same transaction
            return super().confirm(payment=payment)

    put_in_cart(remote_support, 7)
    with pytest.raises(DatabaseError, match="not there to record its order"):
        place(account, admin, gateway=PaymentVanishes())
    remote_support.refresh_from_db()
    assert not Order.objects.exists() and remote_support.seats == 10
    assert not SeatChange.objects.exists()
    assert Cart.objects.get(account=account).lines.count() == 1
