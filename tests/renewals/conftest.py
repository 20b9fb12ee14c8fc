"""Renewal fixtures; the Stripe ones (localstripe on loopback) come from the payment tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from moneyed import Money

from subscriptions.models import CreditLedgerEntry
from tests.factories import MembershipFactory, PaymentMethodFactory, SubscriptionFactory
from tests.payments.conftest import *  # noqa: F403

NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def acme(db):
    """Acme GmbH: a German self-service account, its billing admin Anna, a Visa on file."""
    membership = MembershipFactory(
        account__name="Acme GmbH", account__country="DE", user__email="anna@acme.example"
    )
    PaymentMethodFactory(account=membership.account)
    return membership.account


def subscribe(account, *, anchor=NOV_1, seats=10, price="42.00", interval="month", **fields):
    """A subscription of ``account`` on a plan of its own: ``seats`` at ``price``."""
    return SubscriptionFactory(
        account=account,
        seats=seats,
        billing_anchor=anchor,
        plan__interval=interval,
        plan__price=Money(Decimal(price), account.currency),
        **fields,
    )


def give_credit(account, amount: str) -> None:
    CreditLedgerEntry.objects.create(
        account=account,
        amount=Money(Decimal(amount), account.currency),
        reason=CreditLedgerEntry.Reason.GOODWILL,
    )
