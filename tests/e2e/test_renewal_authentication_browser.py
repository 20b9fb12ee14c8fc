"""A renewal the bank wants authenticated, completed by the billing admin in Chromium
from the link in their email (sandbox card 4000 0025 0000 3155)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from checkout.models import Order
from payments.models import Payment
from renewals.run import subscriptions_renew
from subscriptions import clock
from subscriptions.models import Subscription
from subscriptions.proration import period_end
from tests.e2e.accessibility_pages import describe, serious_violations
from tests.e2e.conftest import DESKTOP, PHONE, screenshot, sign_in
from tests.factories import PASSWORD, MembershipFactory, PaymentMethodFactory, SubscriptionFactory
from tests.payments.conftest import (  # noqa: F401 (fixtures)
    charges_for,
    localstripe_url,
    stripe_card_on_file,
    stripe_settings,
)

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = {
    "en": {"confirm": "Confirm payment", "amount": "€499.80", "renewed": "subscription is renewed"},
    "de": {
        "confirm": "Zahlung bestätigen",
        "amount": "499,80\xa0€",
        "renewed": "Abonnement verlängert",
    },
}


@pytest.mark.parametrize("lang", ["en", "de"])
def test_the_admin_completes_the_renewal_from_the_email_link(open_page, mailoutbox, lang):
    membership = MembershipFactory(
        account__name="Acme GmbH", user__email="anna@acme.example", user__language=lang
    )
    PaymentMethodFactory(account=membership.account, last4="3155")
    anchor = period_end(timezone.now() - timedelta(hours=1), "month", -1)
    subscription = SubscriptionFactory(account=membership.account, billing_anchor=anchor)
    ended = subscription.current_period_end

    assert subscriptions_renew(at=clock.now()).past_due == 1
    payment = Payment.objects.get()
    [email] = mailoutbox
    link = re.search(r"https?://\S+/renewals/payments/\d+/", email.body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]

    page = open_page(lang, viewport=PHONE)
    sign_in(page, "anna@acme.example", PASSWORD)
    page.goto(f"/{path}")
    expect(page.get_by_text(WORDS[lang]["amount"]).first).to_be_visible()
    screenshot(page, f"renewal-authenticate-phone-{lang}")
    # As every page: no serious or critical accessibility violation, phone and desktop.
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        violations = serious_violations(page, Axe())
        assert not violations, f"renewal page, {lang}, {width}:\n{describe(violations)}"
    page.get_by_role("button", name=WORDS[lang]["confirm"]).click()
    page.wait_for_url("**/orders/RN-*/")
    # The success message (the renewal order page below says it was renewed too).
    expect(page.get_by_role("status").get_by_text(WORDS[lang]["renewed"])).to_be_visible()

    order = Order.objects.get()
    payment.refresh_from_db()
    assert (payment.status, payment.order) == ("succeeded", order)
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE
    assert subscription.current_period_start == ended
    # The link again (the email read twice): the same order, nothing charged again.
    page.goto(f"/{path}")
    page.wait_for_url(f"**/orders/{order.number}/")
    assert (Order.objects.count(), Payment.objects.count()) == (1, 1)


def test_in_stripe_mode_stripe_js_runs_the_bank_step_and_the_renewal_is_recorded(
    open_page,
    stripe_settings,  # noqa: F811
    localstripe_url,  # noqa: F811
):
    """localstripe's Stripe.js stands in for Stripe's: its own 3-D Secure step."""
    stripe_settings.STRIPE_JS_URL = f"{localstripe_url}/js.stripe.com/v3/"
    directives = stripe_settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    stripe_settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {
            **directives,
            "script-src": [*directives["script-src"], localstripe_url],
            "connect-src": [*directives["connect-src"], localstripe_url],
        }
    }
    membership = MembershipFactory(
        account__name="Stripe Kunde GmbH", user__email="kim@kunde.example"
    )
    stripe_card_on_file(membership.account, "4000002500003155")
    anchor = period_end(timezone.now() - timedelta(hours=1), "month", -1)
    subscription = SubscriptionFactory(account=membership.account, billing_anchor=anchor)
    assert subscriptions_renew(at=clock.now()).past_due == 1
    payment = Payment.objects.get()
    assert payment.status == "requires_action"

    page = open_page("en")
    sign_in(page, "kim@kunde.example", PASSWORD)
    page.goto(f"/renewals/payments/{payment.pk}/")
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url("**/orders/RN-*/")

    order = Order.objects.get()
    payment.refresh_from_db()
    assert (payment.status, payment.order) == ("succeeded", order)
    charges = charges_for(localstripe_url, payment.reference)
    assert [(charge["amount"], charge["status"]) for charge in charges] == [(49980, "succeeded")]
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE
