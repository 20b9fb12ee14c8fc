"""Writes refuse bad input with a message and write nothing."""

import pytest
from django.core.exceptions import ValidationError
from moneyed import Money

from subscriptions.credit import credit_balance
from subscriptions.models import CreditLedgerEntry, SeatAssignment
from subscriptions.services import account_set_vat_number, credit_ledger_add, seat_assign
from tests.factories import AccountFactory, MembershipFactory, SubscriptionFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_valid_vat_number_is_saved_compact():
    account = AccountFactory(country="DE")
    account_set_vat_number(account=account, vat_number=" DE 136-695-976 ")
    account.refresh_from_db()
    assert account.vat_number == "DE136695976"


@pytest.mark.parametrize(
    ("vat_number", "says"),
    [
        ("DE136695978", "not a valid VAT number for DE"),
        ("FR40303265045", "starts with FR, but the account is in DE"),
        ("DE 136 695 976 " + "9" * 30, "at most 32 characters"),
    ],
)
def test_invalid_vat_number_is_refused_and_nothing_saved(vat_number, says):
    account = AccountFactory(country="DE", vat_number="DE136695976")
    with pytest.raises(ValidationError, match=says):
        account_set_vat_number(account=account, vat_number=vat_number)
    account.refresh_from_db()
    assert account.vat_number == "DE136695976"


def test_ledger_credit_and_debit_move_the_balance():
    account = AccountFactory()
    admin = UserFactory()
    credit_ledger_add(
        account=account,
        amount=Money("63.00", "EUR"),
        reason="seat_change_credit",
        reference="ORD-1",
        created_by=admin,
    )
    credit_ledger_add(
        account=account, amount=Money("-20.00", "EUR"), reason="applied_to_order", reference="ORD-2"
    )
    assert credit_balance(account) == Money("43.00", "EUR")
    first = account.ledger_entries.first()
    assert (first.reference, first.created_by) == ("ORD-1", admin)


@pytest.mark.parametrize(
    ("amount", "reason", "says"),
    [
        (Money("10.00", "USD"), "goodwill", "in EUR, not USD"),
        (Money("0.00", "EUR"), "goodwill", "non-zero amount"),
        (Money("0.001", "EUR"), "goodwill", "more decimals than EUR allows"),
        (Money("-0.01", "EUR"), "applied_to_order", "cannot be taken"),  # would overdraw
        (Money("5.00", "EUR"), "because", "Unknown ledger reason"),
    ],
)
def test_bad_ledger_entries_are_refused_and_nothing_written(amount, reason, says):
    account = AccountFactory()
    with pytest.raises(ValidationError, match=says):
        credit_ledger_add(account=account, amount=amount, reason=reason)
    assert CreditLedgerEntry.objects.count() == 0


def test_a_seat_is_assigned_only_while_one_is_free():
    subscription = SubscriptionFactory(seats=1)
    first, second = (MembershipFactory(account=subscription.account).user for _ in range(2))
    seat_assign(subscription=subscription, user=first)
    seat_assign(subscription=subscription, user=first)  # again: nothing new
    with pytest.raises(ValidationError, match="has 1 license and it is assigned"):
        seat_assign(subscription=subscription, user=second)
    with pytest.raises(ValidationError, match="not a member"):
        seat_assign(subscription=subscription, user=UserFactory())
    assert list(SeatAssignment.objects.values_list("user", flat=True)) == [first.pk]
