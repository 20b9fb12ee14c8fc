"""What the database itself guarantees: constraints, history that cannot be rewritten."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from moneyed import Money

from subscriptions.models import CreditLedgerEntry, Plan, SeatChange, Subscription, TaxRate
from tests.factories import (
    PASSWORD,
    AccountFactory,
    PlanFactory,
    SubscriptionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_users_sign_in_with_their_email_in_any_case():
    user = UserFactory(email="anna@acme.example")
    assert authenticate(username="Anna@ACME.example", password=PASSWORD) == user
    assert authenticate(username="anna@acme.example", password="wrong") is None


def test_seats_cannot_go_negative_in_the_database():
    subscription = SubscriptionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Subscription.objects.filter(pk=subscription.pk).update(seats=-1)
    subscription.refresh_from_db()
    assert subscription.seats == 10


def test_period_must_end_after_it_starts_in_the_database():
    subscription = SubscriptionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Subscription.objects.filter(pk=subscription.pk).update(
            current_period_end=subscription.current_period_start
        )


def test_period_end_before_start_is_a_validation_error():
    subscription = SubscriptionFactory.build(
        account=AccountFactory(),
        plan=PlanFactory(),
        billing_anchor=datetime(2026, 1, 1, tzinfo=UTC),
    )
    subscription.current_period_end = subscription.current_period_start - timedelta(seconds=1)
    with pytest.raises(ValidationError, match="end after it starts"):
        subscription.full_clean()


def test_plan_currency_must_match_the_account():
    account = AccountFactory(currency="USD")
    plan = PlanFactory(price=Money("42.00", "EUR"))
    subscription = SubscriptionFactory.build(account=account, plan=plan)
    with pytest.raises(ValidationError, match="priced in EUR but the account pays in USD"):
        subscription.full_clean()


def test_one_plan_per_product_interval_and_currency():
    plan = PlanFactory(price=Money("42.00", "EUR"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Plan.objects.create(product=plan.product, interval=plan.interval, price=Money("40", "EUR"))
    # Another currency or interval is another plan.
    Plan.objects.create(product=plan.product, interval=plan.interval, price=Money("45", "USD"))
    Plan.objects.create(product=plan.product, interval="year", price=Money("420", "EUR"))
    assert plan.product.plans.count() == 3


def test_plan_maximum_cannot_be_below_minimum():
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanFactory(min_seats=10, max_seats=5)


def test_seat_changes_are_append_only():
    subscription = SubscriptionFactory()
    change = SeatChange.objects.create(
        subscription=subscription,
        from_seats=10,
        to_seats=7,
        at=datetime(2026, 11, 26, tzinfo=UTC),
        channel=SeatChange.Channel.PORTAL,
    )
    change.to_seats = 8
    with pytest.raises(ValidationError, match="history"):
        change.save()
    with pytest.raises(ValidationError, match="history"):
        change.delete()
    change.refresh_from_db()
    assert change.to_seats == 7


def test_a_seat_change_must_change_seats():
    subscription = SubscriptionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        SeatChange.objects.create(
            subscription=subscription,
            from_seats=10,
            to_seats=10,
            at=datetime(2026, 11, 26, tzinfo=UTC),
            channel=SeatChange.Channel.ADMIN,
        )


def test_ledger_entries_are_append_only():
    account = AccountFactory()
    entry = CreditLedgerEntry.objects.create(
        account=account, amount=Money("10.00", "EUR"), reason="goodwill"
    )
    entry.amount = Money("1000.00", "EUR")
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()
    entry.refresh_from_db()
    assert entry.amount == Money("10.00", "EUR")


def test_account_vat_number_is_checked_and_stored_compact():
    account = AccountFactory.build(country="DE", vat_number="de 136 695 976")
    account.full_clean()
    assert account.vat_number == "DE136695976"


def test_account_with_invalid_vat_number_does_not_validate():
    account = AccountFactory.build(country="DE", vat_number="DE136695978")
    with pytest.raises(ValidationError) as caught:
        account.full_clean()
    assert "not a valid VAT number for DE" in str(caught.value.message_dict["vat_number"])


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("country", "de", "two-letter country code"),
        ("country", "DEU", "two-letter country code"),
        ("time_zone", "Mars/Olympus", "not a known time zone"),
        ("currency", "XBT", "not a valid choice"),
    ],
)
def test_account_fields_refuse_bad_values(field, value, says):
    account = AccountFactory.build(**{field: value})
    with pytest.raises(ValidationError) as caught:
        account.full_clean()
    assert says in " ".join(caught.value.message_dict[field])


def test_eu_standard_vat_rates_are_seeded_by_migration():
    rates = dict(TaxRate.objects.values_list("country", "rate"))
    assert len(rates) == 27
    assert rates["DE"] == Decimal("19.00")
    assert rates["FR"] == Decimal("20.00")
    assert rates["HU"] == Decimal("27.00")
    assert rates["LU"] == Decimal("17.00")
    assert rates["FI"] == Decimal("25.50")
    assert "GB" not in rates and "US" not in rates


def test_tax_rate_must_be_a_percentage():
    with pytest.raises(IntegrityError), transaction.atomic():
        TaxRate.objects.create(country="XK", rate=Decimal("120"))


def test_history_cannot_be_rewritten_in_bulk_or_in_sql():
    from django.db import connection

    account = AccountFactory()
    entry = CreditLedgerEntry.objects.create(
        account=account, amount=Money("10.00", "EUR"), reason="goodwill"
    )
    with pytest.raises(ValidationError):
        CreditLedgerEntry.objects.filter(pk=entry.pk).update(amount=9999)
    with pytest.raises(ValidationError):
        CreditLedgerEntry.objects.filter(pk=entry.pk).delete()
    for statement in (
        "UPDATE subscriptions_creditledgerentry SET amount = 9999 WHERE id = %s",
        "DELETE FROM subscriptions_creditledgerentry WHERE id = %s",
    ):
        with (
            pytest.raises(Exception, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [entry.pk])
    entry.refresh_from_db()
    assert entry.amount == Money("10.00", "EUR")


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (Plan, "interval", "week"),
        (Subscription, "status", "bogus"),
    ],
)
def test_unknown_choices_are_refused_by_the_database(model, field, value):
    row = PlanFactory() if model is Plan else SubscriptionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.filter(pk=row.pk).update(**{field: value})


def test_emails_are_unique_whatever_their_case():
    UserFactory(email="ops@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(email="OPS@example.com")
