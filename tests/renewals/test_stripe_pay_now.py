"""Pay now through Stripe (localstripe on loopback): the card on file or a new card set up
by Stripe.js, charged once; card fields posted to the portal are refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from checkout.models import Order
from payments.models import Payment, PaymentMethod
from renewals.run import subscriptions_renew
from subscriptions import clock
from subscriptions.proration import period_end
from subscriptions.services import tax_rates_ensure_eu_standard
from tests.factories import MembershipFactory
from tests.payments.conftest import charges_for, stripe_card, stripe_card_on_file
from tests.renewals.conftest import subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def declined(stripe_settings, client):
    """A Stripe customer whose renewal an hour ago was declined (card ...0341); signed in."""
    tax_rates_ensure_eu_standard()
    membership = MembershipFactory(account__name="Stripe Kunde GmbH", account__country="DE")
    stripe_card_on_file(membership.account, "4000000000000341")
    anchor = period_end(timezone.now() - timedelta(hours=1), "month", -1)
    subscription = subscribe(membership.account, anchor=anchor)
    assert subscriptions_renew(at=clock.now()).past_due == 1
    client.force_login(membership.user)
    subscription.refresh_from_db()
    return subscription


def pay(client, subscription, **fields):
    period = subscription.current_period_end.isoformat()
    return client.post(
        reverse("renewals:renewal_pay", args=[subscription.pk]), {"period": period, **fields}
    )


def test_the_page_takes_a_new_card_only_through_stripe_js(declined, client):
    page = client.get(reverse("renewals:renewal_pay", args=[declined.pk])).content.decode()
    assert 'id="card-element"' in page and 'name="setup_intent"' in page
    assert 'name="card_number"' not in page


def test_a_new_card_set_up_by_stripe_js_pays_once(declined, client, localstripe_url):
    setup_intent = stripe_card(declined.account, "4242424242424242")
    answer = pay(client, declined, setup_intent=setup_intent)

    order = Order.objects.get()
    assert answer.url == reverse("checkout:order", args=[order.number])
    paid = Payment.objects.get(status="succeeded")
    assert (paid.order, paid.gateway) == (order, "stripe")
    charges = charges_for(localstripe_url, paid.reference)
    assert [(c["amount"], c["status"]) for c in charges] == [(49980, "succeeded")]
    declined.refresh_from_db()
    assert declined.status == "active"
    assert PaymentMethod.objects.get(account=declined.account, is_default=True).last4 == "4242"

    # Again: already paid, nothing charged.
    pay(client, declined, setup_intent=stripe_card(declined.account, "4242424242424242"))
    assert Payment.objects.filter(status="succeeded").count() == 1
    assert len(charges_for(localstripe_url, paid.reference)) == 1


def test_the_card_on_file_replaced_since_pays(declined, client):
    stripe_card_on_file(declined.account, "4242424242424242")
    assert pay(client, declined).status_code == 302
    assert Order.objects.count() == 1
    declined.refresh_from_db()
    assert declined.status == "active"


def test_a_declined_card_changes_nothing_in_the_dunning(declined, client):
    before = declined.next_renewal_attempt_at
    answer = pay(client, declined)
    assert answer.status_code == 402
    assert "Your card was declined, so nothing was charged." in answer.content.decode()
    declined.refresh_from_db()
    assert (declined.status, declined.renewal_attempts) == ("past_due", 1)
    assert declined.next_renewal_attempt_at == before
    assert not Order.objects.exists()


def test_card_fields_posted_in_stripe_mode_are_refused(declined, client):
    answer = pay(client, declined, card_number="4242424242424242", expiry="12/30", cvc="123")
    assert answer.status_code == 400
    assert "Card details are taken only by our payment provider" in answer.content.decode()
    assert Payment.objects.count() == 1
