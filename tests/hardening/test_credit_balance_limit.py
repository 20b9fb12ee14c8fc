"""Issue #13, section 2, item 6: support's credit corrections are limited by the balance
they leave, not only entry by entry.

Before, each entry was checked against 1,000,000 on its own, so two corrections of
+1,000,000 left 2,000,000 of credit. A correction may now leave at most 1,000,000 and
at least nothing, checked under the account's row lock: two corrections at once never
both pass on the same old balance.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from moneyed import Money

from subscriptions import services
from subscriptions.credit import credit_balance
from subscriptions.models import AuditEntry, CreditLedgerEntry
from subscriptions.services import account_credit_adjust, credit_ledger_add
from tests.factories import MembershipFactory, UserFactory

CREDIT = "support_creditform"


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def messages_on(page: str) -> str:
    return " ".join(page.split())


@pytest.fixture
def support(client, db):
    user = UserFactory(email="support@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    client.force_login(user)
    return user


def correct(client, account, amount: str, kind: str = "correction"):
    """Support's "Add a credit or a charge correction", confirmed."""
    return client.post(
        reverse("admin:subscriptions_account_changelist"),
        {
            "action": CREDIT,
            "index": "0",
            "_selected_action": [str(account.pk)],
            "kind": kind,
            "amount": amount,
            "reason": "ticket 4711",
            "confirm": "1",
        },
        follow=True,
    )


@pytest.mark.django_db
def test_two_corrections_of_a_million_leave_a_million(client, support, account):
    first = correct(client, account, "1000000", kind="goodwill")
    assert "Ledger entry added." in messages_on(first.content.decode())
    second = correct(client, account, "1000000", kind="goodwill")
    page = messages_on(second.content.decode())
    assert (
        "Acme GmbH has €1,000,000.00 of credit; adding €1,000,000.00 would leave "
        "€2,000,000.00, more than the €1,000,000.00 a correction may leave. "
        "Nothing was changed."
    ) in page
    assert "Ledger entry added." not in page
    assert credit_balance(account) == eur("1000000.00")
    assert CreditLedgerEntry.objects.count() == 1
    assert AuditEntry.objects.filter(action="credit_adjustment").count() == 1


@pytest.mark.django_db
def test_the_limit_is_on_the_resulting_balance_both_ways(client, support, account):
    credit_ledger_add(account=account, amount=eur("1.00"), reason="goodwill")
    # The case: 1.00 of credit and a correction of the largest single entry.
    refused = correct(client, account, "1000000")
    assert "would leave €1,000,001.00" in messages_on(refused.content.decode())
    assert credit_balance(account) == eur("1.00")
    correct(client, account, "999999.00")
    assert credit_balance(account) == eur("1000000.00")
    one_cent_more = correct(client, account, "0.01")
    assert "would leave €1,000,000.01" in messages_on(one_cent_more.content.decode())
    correct(client, account, "-1000000")
    assert credit_balance(account) == eur("0.00")
    below_zero = correct(client, account, "-0.01")
    assert "The account has € 0.00 of credit; € 0.01 cannot be taken from it." in messages_on(
        below_zero.content.decode()
    )
    assert credit_balance(account) == eur("0.00")
    assert CreditLedgerEntry.objects.count() == 3


@pytest.mark.django_db
def test_a_balance_above_the_limit_can_still_be_corrected_down(client, support, account):
    """Credit from seat reductions is not capped: support may take some of it away,
    but add nothing on top."""
    credit_ledger_add(account=account, amount=eur("1500000.00"), reason="seat_change_credit")
    assert "would leave €1,500,000.01" in messages_on(
        correct(client, account, "0.01", kind="goodwill").content.decode()
    )
    correct(client, account, "-200000")
    assert credit_balance(account) == eur("1300000.00")


def _adjust_at_once(account, amounts: list[Money], staff, monkeypatch) -> list[str]:
    """Both corrections start together, each on its own connection, and each waits a
    moment after reading the balance: without the row lock both would read the same
    old balance and both pass."""
    read_balance = services.credit_balance

    def slow_balance(account):
        balance = read_balance(account)
        time.sleep(0.5)
        return balance

    monkeypatch.setattr(services, "credit_balance", slow_balance)
    start = threading.Barrier(len(amounts))
    outcomes: list[str] = [""] * len(amounts)

    def adjust(index: int, amount: Money) -> None:
        try:
            start.wait(timeout=30)
            account_credit_adjust(
                account=account, amount=amount, kind="correction", reason="x", staff=staff
            )
            outcomes[index] = "added"
        except ValidationError as error:
            outcomes[index] = error.messages[0]
        except Exception as error:  # reported as the outcome
            outcomes[index] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=adjust, args=pair) for pair in enumerate(amounts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a correction hung"
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_corrections_at_once_cannot_both_pass_the_ceiling(monkeypatch):
    account = MembershipFactory(account__name="Acme GmbH", account__country="DE").account
    staff = UserFactory(email="support@example.com", is_staff=True)
    outcomes = _adjust_at_once(account, [eur("600000.00"), eur("600000.00")], staff, monkeypatch)
    assert sorted(outcomes) == [
        "Acme GmbH has €600,000.00 of credit; adding €600,000.00 would leave €1,200,000.00, "
        "more than the €1,000,000.00 a correction may leave. Nothing was changed.",
        "added",
    ]
    assert credit_balance(account) == eur("600000.00")
    assert CreditLedgerEntry.objects.count() == 1
    assert AuditEntry.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_corrections_at_once_cannot_both_pass_the_floor(monkeypatch):
    account = MembershipFactory(account__name="Acme GmbH", account__country="DE").account
    staff = UserFactory(email="support@example.com", is_staff=True)
    credit_ledger_add(account=account, amount=eur("1000.00"), reason="goodwill")
    outcomes = _adjust_at_once(account, [eur("-700.00"), eur("-700.00")], staff, monkeypatch)
    assert sorted(outcomes) == [
        "The account has €\xa0300.00 of credit; €\xa0700.00 cannot be taken from it.",
        "added",
    ]
    assert credit_balance(account) == eur("300.00")
    assert sum(e.amount.amount for e in CreditLedgerEntry.objects.all()) == Decimal("300.00")
    assert AuditEntry.objects.count() == 1
