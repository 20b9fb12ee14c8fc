"""Renewal fixtures; the Stripe ones (localstripe on loopback) come from the payment tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from moneyed import Money

from payments.gateways import SandboxGateway
from payments.models import Payment, PaymentMethod
from renewals.run import subscriptions_renew
from subscriptions.models import CreditLedgerEntry
from tests.factories import MembershipFactory, PaymentMethodFactory, SubscriptionFactory
from tests.payments.conftest import *  # noqa: F403

NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)
JAN_1 = datetime(2027, 1, 1, tzinfo=UTC)


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


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def renew(at: datetime, **kwargs):
    """Renew as the beat would at ``at``: the portal's clock stands there too."""
    with time_machine.travel(at, tick=False):
        return subscriptions_renew(at=at, **kwargs)


def decline_cards(account) -> None:
    PaymentMethod.objects.filter(account=account).update(last4="0002")


class CountingSandbox(SandboxGateway):
    """The sandbox, counting the charges it is asked to make."""

    def __init__(self):
        self.charged = []

    def charge_off_session(self, *, payment):
        self.charged.append(payment.idempotency_key)
        return super().charge_off_session(payment=payment)


@pytest.fixture
def waiting(acme, django_capture_on_commit_callbacks):
    """Acme's renewal on Dec 1 with a card whose bank asks for 3-D Secure; a German
    second billing admin. Returns the subscription after the renewal run."""
    MembershipFactory(account=acme, user__email="bernd@acme.example", user__language="de")
    PaymentMethod.objects.filter(account=acme).update(last4="3155")
    subscription = subscribe(acme, plan__product__name="Remote Support v5")
    with (
        time_machine.travel(DEC_1, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        summary = subscriptions_renew(at=DEC_1)
    assert (summary.renewed, summary.past_due) == (0, 1)
    return subscription


@pytest.fixture
def anna(client, acme):
    client.force_login(acme.memberships.get(user__email="anna@acme.example").user)
    return client


def page_url(payment: Payment) -> str:
    return reverse("renewals:renewal_payment", args=[payment.pk])
