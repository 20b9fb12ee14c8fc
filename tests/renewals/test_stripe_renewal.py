"""A renewal through Stripe (localstripe on loopback): charged once, off session."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from moneyed import Money

from checkout.models import Order
from payments.models import Payment
from renewals.run import renewal_token, subscriptions_renew
from subscriptions import clock
from subscriptions.models import Subscription
from subscriptions.proration import period_end
from subscriptions.services import tax_rates_ensure_eu_standard
from tests.factories import MembershipFactory
from tests.payments.conftest import charges_for, localstripe_get, stripe_card_on_file
from tests.renewals.conftest import subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_customer(stripe_settings):
    tax_rates_ensure_eu_standard()
    return MembershipFactory(account__name="Stripe Kunde GmbH", account__country="DE").account


def due_subscription(account):
    """Ten licenses at €42.00 a month whose period ended an hour ago."""
    anchor = period_end(timezone.now() - timedelta(hours=1), "month", -1)
    return subscribe(account, anchor=anchor)


def test_a_renewal_is_charged_off_session_once(stripe_customer, localstripe_url):
    stripe_card_on_file(stripe_customer, "4242424242424242")
    subscription = due_subscription(stripe_customer)
    ended = subscription.current_period_end

    summary = subscriptions_renew(at=clock.now())

    assert summary.renewed == 1
    order = Order.objects.get()
    assert (order.kind, order.amount_due) == ("renewal", Money(Decimal("499.80"), "EUR"))
    payment = Payment.objects.get()
    assert (payment.status, payment.gateway, payment.order) == ("succeeded", "stripe", order)
    assert payment.reference.startswith("pi_")
    assert payment.checkout_token == renewal_token(subscription.pk, ended)

    intent = localstripe_get(localstripe_url, f"/v1/payment_intents/{payment.reference}")
    assert (intent["amount"], intent["currency"], intent["status"]) == (49980, "eur", "succeeded")
    assert intent["metadata"]["payment_id"] == str(payment.pk)
    assert intent["customer"] == stripe_customer.stripe_customer_id
    charges = charges_for(localstripe_url, payment.reference)
    assert [(charge["amount"], charge["status"]) for charge in charges] == [(49980, "succeeded")]

    subscription.refresh_from_db()
    assert subscription.current_period_start == ended

    # Run again: nothing more is charged.
    assert subscriptions_renew(at=clock.now()).renewed == 0
    assert Payment.objects.count() == 1
    assert len(charges_for(localstripe_url, payment.reference)) == 1


def test_a_declined_stripe_card_makes_the_renewal_past_due(stripe_customer):
    stripe_card_on_file(stripe_customer, "4000000000000341")  # saves fine, every charge declined
    subscription = due_subscription(stripe_customer)

    summary = subscriptions_renew(at=clock.now())

    assert (summary.renewed, summary.past_due) == (0, 1)
    assert not Order.objects.exists()
    payment = Payment.objects.get()
    assert (payment.status, payment.failure_reason) == ("failed", "card_declined")
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PAST_DUE
    assert subscription.next_renewal_attempt_at == subscription.past_due_since + timedelta(days=1)


def test_a_card_stripe_no_longer_knows_makes_the_renewal_past_due(stripe_customer):
    method = stripe_card_on_file(stripe_customer, "4242424242424242")
    method.gateway_reference = "pm_gone"
    method.save()
    subscription = due_subscription(stripe_customer)

    summary = subscriptions_renew(at=clock.now())

    assert (summary.past_due, summary.unavailable) == (1, 0)
    payment = Payment.objects.get()
    assert payment.status == "failed" and payment.failure_reason
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PAST_DUE
