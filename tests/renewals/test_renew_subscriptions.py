"""subscriptions_renew on PostgreSQL with the sandbox gateway: the numbers, the periods
and the credit (declines, cancellation, reruns and dry runs: test_renewal_dunning_and_reruns.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from checkout.models import Order, OrderLine
from payments.models import Payment
from renewals.run import renewal_token
from subscriptions.credit import credit_balance
from subscriptions.models import Account, CreditLedgerEntry, Subscription
from tests.factories import MembershipFactory, PaymentMethodFactory
from tests.renewals.conftest import (
    DEC_1,
    NOV_1,
    eur,
    give_credit,
    renew,
    subscribe,
)

pytestmark = pytest.mark.django_db


# -- A monthly renewal -----------------------------------------------------------------


def test_a_monthly_renewal_charges_seats_times_price_plus_vat(
    acme, django_capture_on_commit_callbacks, mailoutbox
):
    subscription = subscribe(acme)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        summary = renew(DEC_1)

    order = Order.objects.get()
    assert order.kind == Order.Kind.RENEWAL
    assert order.number == f"RN-20261201-{subscription.pk}"
    assert order.idempotency_key == renewal_token(subscription.pk, DEC_1)
    assert order.effective_at == DEC_1
    assert order.placed_by is None
    assert (order.tax_kind, order.tax_rate) == ("domestic", Decimal("19.00"))
    assert (order.credit, order.charge, order.subtotal, order.tax, order.total) == (
        eur("0.00"),
        eur("420.00"),
        eur("420.00"),
        eur("79.80"),
        eur("499.80"),
    )
    assert (order.credit_applied, order.credit_added, order.amount_due) == (
        eur("0.00"),
        eur("0.00"),
        eur("499.80"),
    )
    assert order.payment_method_label == "Visa •••• 4242 (12/2030)"

    line = OrderLine.objects.get()
    assert (line.order, line.subscription, line.from_seats, line.to_seats) == (
        order,
        subscription,
        10,
        10,
    )
    assert (line.period_start, line.period_end) == (NOV_1, DEC_1)
    assert (line.new_period_start, line.new_period_end) == (
        DEC_1,
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert (line.unit_price, line.charge, line.tax, line.total) == (
        eur("42.00"),
        eur("420.00"),
        eur("79.80"),
        eur("499.80"),
    )

    payment = Payment.objects.get()
    assert (payment.status, payment.amount, payment.order) == ("succeeded", eur("499.80"), order)
    assert payment.checkout_token == order.idempotency_key
    assert payment.idempotency_key == f"{order.idempotency_key}:1"
    assert payment.reference.startswith("sandbox_pi_")
    assert payment.claimed_until is None

    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE
    assert (subscription.current_period_start, subscription.current_period_end) == (
        DEC_1,
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert subscription.billing_anchor == NOV_1  # periods stay counted from the anchor
    assert subscription.version == 2

    # The confirmation is queued after commit and sent once, to Acme's billing admin.
    assert len(callbacks) == 1
    order.refresh_from_db()
    assert order.email_status == Order.EmailStatus.SENT
    assert [message.to for message in mailoutbox] == [["anna@acme.example"]]
    assert order.number in mailoutbox[0].subject
    assert "499,80" in mailoutbox[0].body or "499.80" in mailoutbox[0].body

    assert summary.renewed == 1
    assert summary.charged == {"EUR": Decimal("499.80")}
    assert summary.line() == (
        "Renewed 1 period(s), charged EUR 499.80; 0 failed → past due, 0 suspended, "
        "0 canceled; 0 left for a later run, 0 error(s)."
    )


def test_the_order_is_pending_for_the_sweeper_until_the_email_goes(acme):
    subscribe(acme)
    renew(DEC_1)  # the test transaction never commits: the email task was not run
    assert Order.objects.get().email_status == Order.EmailStatus.PENDING


def test_nothing_is_due_before_the_period_ends(acme):
    subscription = subscribe(acme)
    summary = renew(DEC_1 - timedelta(microseconds=1))
    assert summary.renewed == 0
    assert not Order.objects.exists() and not Payment.objects.exists()
    subscription.refresh_from_db()
    assert subscription.current_period_end == DEC_1


def test_vat_follows_the_customer(db):
    french_business = MembershipFactory(
        account__name="Société Exemple SARL", account__country="FR", account__vat_number=""
    ).account
    PaymentMethodFactory(account=french_business)
    subscribe(french_business)
    renew(DEC_1)
    order = Order.objects.get()
    assert (order.tax_kind, order.tax_rate, order.tax, order.amount_due) == (
        "destination",
        Decimal("20.00"),
        eur("84.00"),
        eur("504.00"),
    )


def test_a_yearly_plan_renews_for_a_year(acme):
    subscription = subscribe(acme, interval="year", price="480.00", seats=2)
    renew(datetime(2027, 11, 1, tzinfo=UTC))
    subscription.refresh_from_db()
    assert subscription.current_period_end == datetime(2028, 11, 1, tzinfo=UTC)
    assert Order.objects.get().amount_due == eur("1142.40")  # 960.00 + 19 %


def test_corporate_accounts_are_billed_through_their_own_channel(acme):
    acme.billing_channel = Account.BillingChannel.CORPORATE
    acme.save()
    subscription = subscribe(acme)
    summary = renew(DEC_1)
    assert summary.renewed == 0 and not Order.objects.exists()
    subscription.refresh_from_db()
    assert subscription.current_period_end == DEC_1


# -- Periods counted from the anchor ---------------------------------------------------


def test_a_month_end_anchor_comes_back_to_the_31st_after_february(acme):
    jan_31 = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
    subscription = subscribe(acme, anchor=jan_31)
    assert subscription.current_period_end == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)

    renew(datetime(2026, 2, 28, 10, 0, tzinfo=UTC))
    subscription.refresh_from_db()
    assert (subscription.current_period_start, subscription.current_period_end) == (
        datetime(2026, 2, 28, 10, 0, tzinfo=UTC),
        datetime(2026, 3, 31, 10, 0, tzinfo=UTC),
    )

    renew(datetime(2026, 3, 31, 10, 0, tzinfo=UTC))
    subscription.refresh_from_db()
    assert (subscription.current_period_start, subscription.current_period_end) == (
        datetime(2026, 3, 31, 10, 0, tzinfo=UTC),
        datetime(2026, 4, 30, 10, 0, tzinfo=UTC),
    )
    assert list(Order.objects.order_by("effective_at").values_list("number", flat=True)) == [
        f"RN-20260228-{subscription.pk}",
        f"RN-20260331-{subscription.pk}",
    ]


def test_a_subscription_several_periods_behind_renews_period_by_period(acme):
    jan_31 = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
    subscription = subscribe(acme, anchor=jan_31)
    give_credit(acme, "600.00")  # pays the first period and part of the second

    summary = renew(datetime(2026, 4, 30, 12, 0, tzinfo=UTC), batch_size=1)

    lines = OrderLine.objects.order_by("new_period_start")
    assert [(line.new_period_start.date(), line.new_period_end.date()) for line in lines] == [
        (datetime(2026, 2, 28).date(), datetime(2026, 3, 31).date()),
        (datetime(2026, 3, 31).date(), datetime(2026, 4, 30).date()),
        (datetime(2026, 4, 30).date(), datetime(2026, 5, 31).date()),
    ]
    orders = list(Order.objects.order_by("effective_at"))
    assert [(o.credit_applied, o.amount_due) for o in orders] == [
        (eur("499.80"), eur("0.00")),
        (eur("100.20"), eur("399.60")),
        (eur("0.00"), eur("499.80")),
    ]
    assert Payment.objects.count() == 2  # nothing to charge for the first period
    assert summary.renewed == 3 and summary.charged == {"EUR": Decimal("899.40")}
    subscription.refresh_from_db()
    assert subscription.current_period_end == datetime(2026, 5, 31, 10, 0, tzinfo=UTC)
    assert credit_balance(acme) == eur("0.00")


# -- Credit pays first -----------------------------------------------------------------


def test_the_account_credit_pays_first(acme):
    subscribe(acme)
    give_credit(acme, "100.00")
    renew(DEC_1)
    order = Order.objects.get()
    assert (order.credit_applied, order.amount_due) == (eur("100.00"), eur("399.80"))
    assert Payment.objects.get().amount == eur("399.80")
    applied = CreditLedgerEntry.objects.get(reason=CreditLedgerEntry.Reason.APPLIED_TO_ORDER)
    assert (applied.amount, applied.reference) == (eur("-100.00"), order.number)
    assert credit_balance(acme) == eur("0.00")


def test_credit_that_covers_the_renewal_charges_nothing(acme):
    subscription = subscribe(acme)
    give_credit(acme, "600.00")
    summary = renew(DEC_1)
    order = Order.objects.get()
    assert (order.credit_applied, order.amount_due, order.payment_method_label) == (
        eur("499.80"),
        eur("0.00"),
        "",
    )
    assert not Payment.objects.exists()
    assert credit_balance(acme) == eur("100.20")
    assert summary.renewed == 1 and summary.charged == {}
    subscription.refresh_from_db()
    assert subscription.current_period_start == DEC_1


def test_the_credit_carries_from_one_subscription_to_the_next(acme):
    first, second = subscribe(acme), subscribe(acme, seats=5)
    give_credit(acme, "600.00")
    renew(DEC_1)
    by_subscription = {
        line.subscription_id: line.order for line in OrderLine.objects.select_related("order")
    }
    assert (by_subscription[first.pk].credit_applied, by_subscription[first.pk].amount_due) == (
        eur("499.80"),
        eur("0.00"),
    )
    # 5 × 42.00 = 210.00 + 39.90 VAT = 249.90; 100.20 credit left pays first.
    assert (by_subscription[second.pk].credit_applied, by_subscription[second.pk].amount_due) == (
        eur("100.20"),
        eur("149.70"),
    )
    assert credit_balance(acme) == eur("0.00")
