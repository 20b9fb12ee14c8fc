"""The Credit page: the ledger in the customer's words, newest first, with the balance
after each entry; the account's own entries only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from moneyed import Money

from subscriptions.credit import credit_balance
from subscriptions.models import CreditLedgerEntry
from tests.checkout.helpers import place
from tests.factories import AccountFactory, SubscriptionFactory
from tests.pages import shown
from tests.shared_fixtures import AT, put_in_cart

pytestmark = pytest.mark.django_db


def entry(account, amount: str, reason=CreditLedgerEntry.Reason.GOODWILL, *, at=AT, **fields):
    return CreditLedgerEntry.objects.create(
        account=account,
        amount=Money(Decimal(amount), account.currency),
        reason=reason,
        created_at=at,
        **fields,
    )


def rows(page: str) -> list[tuple[str, str, str]]:
    """Each row's sentence, amount and balance after it, as the page shows them."""
    found = []
    for row in re.findall(r'<tr data-testid="ledger-row">(.*?)</tr>', page, re.S):
        text = re.sub(r"<[^>]+>", "", re.search(r'class="ledger-text">(.*?)</td>', row, re.S)[1])
        amount = re.search(r'class="num ledger-amount">([^<]*)<', row)[1]
        balance = re.search(r'class="num ledger-balance"[^>]*>([^<]*)<', row)[1]
        found.append((" ".join(text.split()), amount, balance))
    return found


def credit_page(client, admin, **params) -> str:
    client.force_login(admin)
    response = client.get(reverse("billing_center:credit"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_orders_that_add_and_use_credit_read_as_sentences(client, frozen_now, admin, account):
    entry(account, "1000.00", at=AT - timedelta(days=3))
    remote_support = SubscriptionFactory(
        account=account, plan__product__name="Remote Support v5", seats=10
    )
    meetings = SubscriptionFactory(
        account=account,
        plan__product__name="Meeting Rooms",
        plan__interval="year",
        plan__price=Money("144.00", "EUR"),
        seats=5,
        billing_anchor=datetime(2026, 8, 18, 9, 30, tzinfo=UTC),
        current_period_end=datetime(2027, 8, 18, 9, 30, tzinfo=UTC),
    )
    put_in_cart(meetings, 3)
    reduction = place(account, admin)
    put_in_cart(remote_support, 12)
    increase = place(account, admin)

    page = credit_page(client, admin)
    assert rows(page) == [
        (f"Used to pay order {increase.number}", "−€524.79", "€582.94"),
        (
            f"Credit for 2 licenses removed from Meeting Rooms (order {reduction.number})",
            "+€107.73",
            "€1,107.73",
        ),
        ("Goodwill credit from our support team", "+€1,000.00", "€1,000.00"),
    ]
    assert shown(page, "credit-balance") == "€582.94"
    assert credit_balance(account) == Money("582.94", "EUR")
    assert f'href="/orders/{increase.number}/"' in page


def test_renewal_entries_and_corrections_read_as_sentences(client, admin, account):
    entry(account, "80.00", CreditLedgerEntry.Reason.CORRECTION, at=AT - timedelta(days=4))
    entry(
        account,
        "-30.00",
        CreditLedgerEntry.Reason.APPLIED_TO_ORDER,
        reference="RN-20261201-7",
        at=AT - timedelta(days=3),
    )
    entry(
        account,
        "30.00",
        CreditLedgerEntry.Reason.CORRECTION,
        reference="RN-20261201-7",
        at=AT - timedelta(days=2),
    )
    entry(account, "-5.00", CreditLedgerEntry.Reason.CORRECTION, at=AT - timedelta(days=1))
    assert [text for text, _, _ in rows(credit_page(client, admin))] == [
        "Correction by our support team: credit removed",
        "Given back: the renewal RN-20261201-7 was not paid",
        "Used for the renewal RN-20261201-7",
        "Correction by our support team: credit added",
    ]


def test_the_page_is_german_for_a_german_reader(client, admin, account):
    entry(account, "25.00")
    client.cookies["django_language"] = "de"
    page = credit_page(client, admin)
    assert rows(page) == [("Kulanzgutschrift von unserem Support", "+25,00\xa0€", "25,00\xa0€")]
    assert "Kontoguthaben" in page


def test_another_accounts_entries_are_not_shown(client, admin, account):
    entry(account, "10.00")
    entry(AccountFactory(), "777.77")
    page = credit_page(client, admin)
    assert len(rows(page)) == 1 and "777" not in page
    assert shown(page, "credit-balance") == "€10.00"


def test_no_entries_say_so(client, admin, account):
    page = credit_page(client, admin)
    assert "No credit has been added to this account yet." in page
    assert shown(page, "credit-balance") == "€0.00"


def test_pages_of_twenty_keep_the_running_balance(client, admin, account):
    for day in range(25):
        entry(account, f"{day + 1}.00", at=AT - timedelta(days=30 - day))
    first = rows(credit_page(client, admin))
    second = rows(credit_page(client, admin, page=2))
    assert (len(first), len(second)) == (20, 5)
    assert first[0] == ("Goodwill credit from our support team", "+€25.00", "€325.00")
    assert second[-1] == ("Goodwill credit from our support team", "+€1.00", "€1.00")
    assert second[0][2] == "€15.00"  # 1 + 2 + 3 + 4 + 5
    assert rows(credit_page(client, admin, page="x")) == first  # a bad page number: the first
