"""The issue's scenario in Chromium: a declined renewal (sandbox card 4000 0000 0000 0002
on file), the past-due email, the Billing Center, and Pay now with a good card."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from checkout.models import Order
from renewals.run import subscriptions_renew
from subscriptions import clock
from subscriptions.models import Subscription
from subscriptions.proration import period_end
from tests.e2e.accessibility_pages import describe, serious_violations
from tests.e2e.conftest import DESKTOP, PHONE, screenshot, sign_in
from tests.factories import PASSWORD, MembershipFactory, PaymentMethodFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = {
    "en": {
        "past_due": "Past due: the renewal payment failed",
        "pay_now": "Pay now",
        "pay": "Pay €499.80",
        "paid": "The renewal is paid and the subscription is active again.",
    },
    "de": {
        "past_due": "Überfällig: Die Zahlung der Verlängerung ist fehlgeschlagen",
        "pay_now": "Jetzt bezahlen",
        "pay": "499,80\xa0€ bezahlen",
        "paid": "Die Verlängerung ist bezahlt und das Abonnement ist wieder aktiv.",
    },
}


def no_serious_violations(page, what: str) -> None:
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        violations = serious_violations(page, Axe())
        assert not violations, f"{what}, {width}:\n{describe(violations)}"


@pytest.mark.parametrize("lang", ["en", "de"])
def test_a_declined_renewal_is_emailed_and_paid_now_with_a_good_card(open_page, mailoutbox, lang):
    membership = MembershipFactory(
        account__name="Acme GmbH", user__email="anna@acme.example", user__language=lang
    )
    PaymentMethodFactory(account=membership.account, last4="0002")
    anchor = period_end(timezone.now() - timedelta(hours=1), "month", -1)
    subscription = SubscriptionFactory(
        account=membership.account, billing_anchor=anchor, plan__product__name="Remote Support v5"
    )
    ended = subscription.current_period_end

    assert subscriptions_renew(at=clock.now()).past_due == 1
    [email] = mailoutbox
    link = re.search(r"https?://\S+/renewals/subscriptions/\d+/pay/", email.body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]

    page = open_page(lang, viewport=PHONE)
    sign_in(page, "anna@acme.example", PASSWORD)
    expect(page.get_by_text(WORDS[lang]["past_due"])).to_be_visible()
    screenshot(page, f"past-due-billing-center-phone-{lang}")
    page.set_viewport_size(DESKTOP)
    screenshot(page, f"past-due-billing-center-desktop-{lang}")
    no_serious_violations(page, f"Billing Center past due, {lang}")

    page.set_viewport_size(DESKTOP)
    page.goto(f"/{path}")  # the email's link
    expect(page.get_by_role("button", name=WORDS[lang]["pay"])).to_be_visible()
    screenshot(page, f"pay-now-desktop-{lang}")
    # The card on file was declined: the page opens "Use another card" at once.
    expect(page.locator("#id_card_number")).to_be_visible()
    page.set_viewport_size(PHONE)
    screenshot(page, f"pay-now-phone-{lang}")
    no_serious_violations(page, f"Pay now, {lang}")

    page.set_viewport_size(PHONE)
    page.fill("#id_card_number", "4242 4242 4242 4242")
    page.fill("#id_expiry", "12/30")
    page.fill("#id_cvc", "123")
    page.get_by_role("button", name=WORDS[lang]["pay"]).click()
    page.wait_for_url("**/orders/RN-*/")
    expect(page.get_by_text(WORDS[lang]["paid"])).to_be_visible()

    order = Order.objects.get()
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE
    assert subscription.current_period_start == ended
    assert order.effective_at == ended

    # The link again: nothing is due, nothing is charged.
    page.goto(f"/{path}")
    expect(page.get_by_role("button", name=WORDS[lang]["pay"])).to_have_count(0)
    page.goto("/")
    expect(page.get_by_text(WORDS[lang]["past_due"])).to_have_count(0)
    assert Order.objects.count() == 1
