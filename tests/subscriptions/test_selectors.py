"""Loading a subscription's data and asking the one quote function."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from moneyed import Money

from subscriptions.credit import credit_balance
from subscriptions.models import CreditLedgerEntry, SeatAssignment, Subscription
from subscriptions.money import CurrencyMismatch
from subscriptions.proration import InvalidSeatCount, NoSeatChange, QuoteError
from subscriptions.selectors import (
    account_subscription,
    account_subscriptions,
    account_tax_treatment,
    subscription_seat_change_quote,
)
from tests.factories import (
    AccountFactory,
    MembershipFactory,
    SeatAssignmentFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db

NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
NOV_26_NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_credit_balance_is_the_sum_of_the_ledger():
    account = AccountFactory()
    assert credit_balance(account) == Money("0.00", "EUR")
    for amount in ("63.00", "12.34", "-50.00"):
        CreditLedgerEntry.objects.create(
            account=account, amount=Money(amount, "EUR"), reason="goodwill"
        )
    CreditLedgerEntry.objects.create(
        account=AccountFactory(), amount=Money("99", "EUR"), reason="goodwill"
    )
    assert credit_balance(account) == Money("25.34", "EUR")


def test_domestic_customer_quote_matches_the_rules_example():
    subscription = SubscriptionFactory(seats=10, billing_anchor=NOV_1)
    quote = subscription_seat_change_quote(subscription=subscription, new_seats=7, at=NOV_26_NOON)
    # docs/billing-rules.md's contract example: 4.5 of 30 days unused.
    assert quote.credit == Money("63.00", "EUR")
    assert quote.charge == Money("294.00", "EUR")
    assert quote.tax == Money("43.89", "EUR")
    assert quote.amount_due == Money("274.89", "EUR")
    assert quote.new_period_end == datetime(2026, 12, 26, 12, 0, tzinfo=UTC)


def test_account_credit_pays_first():
    subscription = SubscriptionFactory(seats=10, billing_anchor=NOV_1)
    CreditLedgerEntry.objects.create(
        account=subscription.account, amount=Money("100.00", "EUR"), reason="goodwill"
    )
    quote = subscription_seat_change_quote(subscription=subscription, new_seats=7, at=NOV_26_NOON)
    assert quote.credit_applied == Money("100.00", "EUR")
    assert quote.amount_due == Money("174.89", "EUR")


@pytest.mark.parametrize(
    ("country", "vat_number", "rate"),
    [("DE", "", "19"), ("FR", "", "20"), ("FR", "FR40303265045", "0"), ("US", "", "0")],
)
def test_tax_treatment_uses_the_rates_in_the_database(country, vat_number, rate):
    account = AccountFactory(country=country, vat_number=vat_number)
    assert account_tax_treatment(account=account).rate == Decimal(rate)


def test_reverse_charge_customer_pays_no_tax():
    account = AccountFactory(country="AT", vat_number="ATU13585627")
    subscription = SubscriptionFactory(account=account, seats=10, billing_anchor=NOV_1)
    quote = subscription_seat_change_quote(subscription=subscription, new_seats=12, at=NOV_26_NOON)
    # charge 12 × 42 = 504.00, credit 63.00, no tax.
    assert quote.tax == Money("0.00", "EUR")
    assert quote.total == Money("441.00", "EUR")


def test_reduction_below_assigned_seats_is_refused_and_says_how_many():
    subscription = SubscriptionFactory(seats=10, billing_anchor=NOV_1)
    for _ in range(3):
        SeatAssignmentFactory(subscription=subscription)
    with pytest.raises(InvalidSeatCount, match="3 licenses are assigned"):
        subscription_seat_change_quote(subscription=subscription, new_seats=2, at=NOV_26_NOON)
    assert (
        subscription_seat_change_quote(
            subscription=subscription, new_seats=3, at=NOV_26_NOON
        ).new_seats
        == 3
    )


@pytest.mark.parametrize(
    ("new_seats", "error", "says"),
    [
        (0, InvalidSeatCount, "at least 1"),
        (-4, InvalidSeatCount, "at least 1"),
        (4, InvalidSeatCount, "at least 5 licenses"),  # plan minimum
        (51, InvalidSeatCount, "at most 50 licenses"),  # plan maximum
        (10**20, InvalidSeatCount, "at most 50 licenses"),
        (10, NoSeatChange, "already has 10 licenses"),
    ],
)
def test_bad_seat_counts_are_refused_with_a_reason(new_seats, error, says):
    subscription = SubscriptionFactory(
        seats=10, billing_anchor=NOV_1, plan__min_seats=5, plan__max_seats=50
    )
    with pytest.raises(error, match=says):
        subscription_seat_change_quote(
            subscription=subscription, new_seats=new_seats, at=NOV_26_NOON
        )


def test_an_expired_trial_is_bought_as_a_change_from_zero_seats():
    start = NOV_1 - timedelta(days=30)
    subscription = SubscriptionFactory(
        status=Subscription.Status.EXPIRED,
        seats=0,
        billing_anchor=start,
        current_period_start=start,
        current_period_end=NOV_1,
        trial_end=NOV_1,
    )
    quote = subscription_seat_change_quote(subscription=subscription, new_seats=5, at=NOV_26_NOON)
    assert quote.current_seats == 0
    assert quote.credit == Money("0.00", "EUR")
    assert quote.charge == Money("210.00", "EUR")
    assert quote.total == Money("249.90", "EUR")
    assert (quote.new_period_start, quote.new_period_end) == (
        NOV_26_NOON,
        datetime(2026, 12, 26, 12, 0, tzinfo=UTC),
    )


def test_subscriptions_list_counts_assigned_seats_in_one_query(django_assert_num_queries):
    membership = MembershipFactory()
    first = SubscriptionFactory(account=membership.account)
    SubscriptionFactory(account=membership.account)
    SeatAssignment.objects.create(subscription=first, user=membership.user)
    with django_assert_num_queries(1):
        rows = [
            (s.plan.product.name, s.assigned_seats)
            for s in account_subscriptions(account=membership.account)
        ]
    assert sorted(count for _, count in rows) == [0, 1]


def test_a_ledger_entry_in_another_currency_is_an_error_not_ignored():
    account = AccountFactory(currency="EUR")
    CreditLedgerEntry.objects.create(account=account, amount=Money("10", "EUR"), reason="goodwill")
    CreditLedgerEntry.objects.create(account=account, amount=Money("100", "USD"), reason="goodwill")
    with pytest.raises(CurrencyMismatch, match="entries in USD"):
        credit_balance(account)


def test_corporate_subscriptions_are_not_quoted_canceled_ones_are_bought_again():
    corporate = SubscriptionFactory(account__billing_channel="corporate", billing_anchor=NOV_1)
    with pytest.raises(QuoteError, match="corporate billing channel"):
        subscription_seat_change_quote(subscription=corporate, new_seats=12, at=NOV_26_NOON)
    # "Subscribe now": from 0 licenses, a new period from now, nothing credited.
    canceled = SubscriptionFactory(status=Subscription.Status.CANCELED, billing_anchor=NOV_1)
    quote = subscription_seat_change_quote(subscription=canceled, new_seats=12, at=NOV_26_NOON)
    assert (quote.current_seats, quote.new_seats, quote.new_period_start) == (0, 12, NOV_26_NOON)
    assert quote.credit.amount == 0


def test_a_missing_tax_rate_is_an_error_not_zero():
    from subscriptions.models import TaxRate
    from subscriptions.vat import MissingTaxRate

    account = AccountFactory(currency="EUR", country="FR")
    TaxRate.objects.filter(country="FR").delete()
    with pytest.raises(MissingTaxRate, match="FR"):
        account_tax_treatment(account=account)


def test_a_subscription_id_out_of_range_is_not_found_rather_than_an_error():
    subscription = SubscriptionFactory()
    account = subscription.account
    found = account_subscription(account=account, pk=subscription.pk)
    assert found == subscription and found.plan.product.name
    assert account_subscription(account=account, pk=10**20) is None
    assert account_subscription(account=account, pk=-1) is None
