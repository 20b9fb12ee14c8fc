"""Paying in the browser in Stripe mode, against localstripe and its stand-in Stripe.js.

Chromium saves a card on /payment-method/ and places orders with the card on file, a
new card typed on the review, a 3-D Secure card and a declined card. Every request the
browser sends to the portal is recorded: none may carry the card number (with or
without spaces) or the CVC that was typed. The card data goes to localstripe only,
which is checked too, so the typing really happened.

localstripe's Stripe.js draws plain inputs (placeholders number, exp_month, exp_year,
cvc, postal_code) where the real one draws its iframe, and asks for 3-D Secure in a
box of its own ("Complete authentication" / "Fail authentication").
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qsl

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing_portal.settings import content_security_policy
from checkout.models import Cart, CartLine, Order
from payments.gateways import to_minor_units
from payments.models import Payment, PaymentMethod
from subscriptions.models import Subscription
from subscriptions.services import tax_rates_ensure_eu_standard
from tests.e2e.conftest import DESKTOP, screenshot, sign_in
from tests.factories import PASSWORD, MembershipFactory, SubscriptionFactory
from tests.payments.conftest import (  # noqa: F401 (localstripe_url is a fixture)
    STRIPE_KEY,
    charges_for,
    localstripe_url,
    stripe_card_on_file,
)

pytestmark = pytest.mark.django_db(transaction=True)

CVC = "073"  # distinctive: in no id, token or amount the portal sends
PLAIN = "4242424242424242"
THREE_D_SECURE = "4000002500003155"
DECLINED = "4000000000000002"
WORDS = {
    "en": {
        "place": "Place order",
        "other": "Use another card",
        "save": "Save card",
        "saved": "Your new card is saved and will be used from now on.",
        "declined": "Your card was declined. Use another card or contact your bank.",
        "details": "Payment details",
    },
    "de": {
        "place": "Bestellung aufgeben",
        "other": "Andere Karte verwenden",
        "save": "Karte speichern",
        "saved": "Ihre neue Karte ist gespeichert",
        "declined": "Ihre Karte wurde abgelehnt.",
        "details": "Zahlungsdaten",
    },
}


@pytest.fixture
def stripe_mode(settings, localstripe_url):  # noqa: F811
    """The live server takes payments through localstripe and loads its Stripe.js."""
    settings.STRIPE_SECRET_KEY = STRIPE_KEY
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_portal_suite"
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_JS_URL = f"{localstripe_url}/js.stripe.com/v3/"
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_TIMEOUT_SECONDS = 5
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.CONTENT_SECURITY_POLICY = content_security_policy(
        stripe_js_url=settings.STRIPE_JS_URL, stripe_api_base=localstripe_url
    )
    return localstripe_url


@pytest.fixture
def admin(transactional_db, stripe_mode):
    """A German account's billing admin, 10 licenses 10 days into the month, 7 in the cart."""
    tax_rates_ensure_eu_standard()
    membership = MembershipFactory(account__name="Stripe Browser GmbH", account__country="DE")
    started = timezone.now() - timedelta(days=10)
    subscription = SubscriptionFactory(account=membership.account, seats=10, billing_anchor=started)
    cart = Cart.objects.create(account=membership.account)
    CartLine.objects.create(cart=cart, subscription=subscription, new_seats=7)
    return membership.user


class Traffic:
    """Every request the page sends: to the portal, and to localstripe."""

    def __init__(self, page, portal: str, stripe: str) -> None:
        self.portal: list[tuple[str, str]] = []
        self.stripe: list[tuple[str, str]] = []
        page.on("request", self._record)
        self._portal, self._stripe = portal, stripe

    def _record(self, request) -> None:
        entry = (request.url, request.post_data or "")
        if request.url.startswith(self._portal):
            self.portal.append(entry)
        elif request.url.startswith(self._stripe):
            self.stripe.append(entry)

    def assert_no_card_data_reached_the_portal(self, number: str) -> None:
        spaced = " ".join(number[i : i + 4] for i in range(0, 16, 4))
        assert self.portal, "no request to the portal was recorded"
        for url, body in self.portal:
            for text in (url, body):
                for variant in (
                    number,
                    spaced,
                    spaced.replace(" ", "+"),
                    spaced.replace(" ", "%20"),
                ):
                    assert variant not in text, (url, body)
            fields = parse_qsl(body, keep_blank_values=True) + parse_qsl(
                url.partition("?")[2], keep_blank_values=True
            )
            for name, value in fields:
                assert name not in ("card_number", "cvc", "expiry"), (url, body)
                digits = re.sub(r"\D", "", value)
                assert digits not in (number, CVC) and value.strip() != CVC, (url, name)
        # The card was typed, and went where it belongs.
        assert any(number in body and CVC in body for _, body in self.stripe), self.stripe


def open_signed_in(open_page, live_server, admin, localstripe, language="en"):
    page = open_page(language, viewport=DESKTOP)
    traffic = Traffic(page, live_server.url, localstripe)
    sign_in(page, admin.email, PASSWORD)
    return page, traffic


def type_card(page, number: str, within: str = "#card-element") -> None:
    """Into the stand-in Stripe.js's inputs (the real one's are in its iframe)."""
    box = page.locator(within)
    box.locator("input[placeholder=number]").fill(number)
    box.locator("input[placeholder=exp_month]").fill("12")
    box.locator("input[placeholder=exp_year]").fill("30")
    box.locator("input[placeholder=cvc]").fill(CVC)
    box.locator("input[placeholder=postal_code]").fill("10115")


def place_and_see_the_confirmation(page, words, localstripe: str) -> Order:
    amount = page.get_by_test_id("amount-due").inner_text()
    page.get_by_role("button", name=words["place"]).click()
    page.wait_for_url("**/orders/BC-*/")
    expect(page.get_by_test_id("amount-charged")).to_have_text(amount)
    order = Order.objects.get()
    payment = Payment.objects.get(order=order)
    charges = charges_for(localstripe, payment.reference)
    assert [(c["status"], c["amount"]) for c in charges] == [
        ("succeeded", to_minor_units(order.amount_due))
    ]
    assert Subscription.objects.get(account=order.account).seats == 7
    return order


def card_on_file_shows(page, last4: str) -> None:
    page.goto("/payment-method/")
    expect(page.get_by_test_id("card-on-file")).to_contain_text(f"•••• {last4}")


def test_a_card_saved_on_the_payment_method_page_then_pays(
    open_page, live_server, admin, stripe_mode
):
    words = WORDS["en"]
    page, traffic = open_signed_in(open_page, live_server, admin, stripe_mode)
    page.goto("/payment-method/")
    # A declined card first: the portal's words, nothing kept; then the same form again.
    type_card(page, DECLINED)
    page.get_by_role("button", name=words["save"]).click()
    expect(page.locator("#card-errors")).to_have_text(words["declined"])
    expect(page.get_by_test_id("card-on-file")).to_have_text("No card on file yet.")
    assert not PaymentMethod.objects.exists()
    type_card(page, PLAIN)
    page.get_by_role("button", name=words["save"]).click()
    expect(page.get_by_text(words["saved"])).to_be_visible()
    expect(page.get_by_test_id("card-on-file")).to_contain_text("Visa •••• 4242")
    card = PaymentMethod.objects.get(account__name="Stripe Browser GmbH", is_default=True)
    assert (card.gateway, card.last4) == ("stripe", "4242")

    page.goto("/checkout/")
    expect(page.get_by_text("Paid with Visa •••• 4242 (12/2030).")).to_be_visible()
    expect(page.locator("#card-element input")).to_have_count(5)  # inside "Use another card"
    expect(page.locator("#card-element input").first).to_be_hidden()
    order = place_and_see_the_confirmation(page, words, stripe_mode)
    assert Payment.objects.get(order=order).payment_method == card
    traffic.assert_no_card_data_reached_the_portal(PLAIN)


@pytest.mark.parametrize("card_before", [None, "4000056655665556"], ids=["no card", "card"])
def test_a_new_card_typed_on_the_review_pays(
    open_page, live_server, admin, stripe_mode, card_before
):
    words = WORDS["en"]
    account = admin.memberships.get().account
    if card_before:
        stripe_card_on_file(account, card_before)
    page, traffic = open_signed_in(open_page, live_server, admin, stripe_mode)
    page.goto("/checkout/")
    if card_before:
        page.get_by_text(words["other"]).click()
    else:
        expect(page.get_by_role("group", name=words["details"])).to_be_visible()
    type_card(page, PLAIN)
    order = place_and_see_the_confirmation(page, words, stripe_mode)
    card = PaymentMethod.objects.get(account=account, is_default=True)
    assert Payment.objects.get(order=order).payment_method == card and card.last4 == "4242"
    card_on_file_shows(page, "4242")
    traffic.assert_no_card_data_reached_the_portal(PLAIN)


def test_a_three_d_secure_card_is_authenticated_then_the_order_is_placed(
    open_page, live_server, admin, stripe_mode
):
    words = WORDS["en"]
    page, traffic = open_signed_in(open_page, live_server, admin, stripe_mode)
    page.goto("/checkout/")
    type_card(page, THREE_D_SECURE)
    amount = page.get_by_test_id("amount-due").inner_text()
    page.get_by_role("button", name=words["place"]).click()
    # Setting the card up: the bank's step of the stand-in Stripe.js.
    page.get_by_role("button", name="Complete authentication").click()
    # Paying: the bank asks again; the portal's authentication page runs Stripe.js.
    page.wait_for_url("**/authenticate/")
    expect(page.get_by_text(f"confirm the payment of {amount}")).to_be_visible()
    assert not Order.objects.exists()
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url("**/orders/BC-*/")
    expect(page.get_by_test_id("amount-charged")).to_have_text(amount)
    order = Order.objects.get()
    payment = Payment.objects.get(order=order)
    assert payment.status == Payment.Status.SUCCEEDED
    assert [c["status"] for c in charges_for(stripe_mode, payment.reference)] == ["succeeded"]
    card_on_file_shows(page, "3155")
    traffic.assert_no_card_data_reached_the_portal(THREE_D_SECURE)


def test_a_payment_whose_authentication_fails_orders_nothing(
    open_page, live_server, admin, stripe_mode
):
    words = WORDS["en"]
    page, traffic = open_signed_in(open_page, live_server, admin, stripe_mode)
    page.goto("/checkout/")
    type_card(page, THREE_D_SECURE)
    page.get_by_role("button", name=words["place"]).click()
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url("**/authenticate/")
    page.get_by_role("button", name="Fail authentication").click()
    page.wait_for_url("**/checkout/")
    expect(
        page.get_by_text("The payment was not authenticated, so nothing was ordered.")
    ).to_be_visible()
    assert not Order.objects.exists()
    payment = Payment.objects.get()
    assert (payment.status, payment.failure_reason) == (
        Payment.Status.FAILED,
        "authentication_failed",
    )
    assert charges_for(stripe_mode, payment.reference) == []
    traffic.assert_no_card_data_reached_the_portal(THREE_D_SECURE)


@pytest.mark.parametrize("lang", ["en", "de"])
def test_a_declined_card_says_so_and_orders_nothing(
    open_page, live_server, admin, stripe_mode, lang
):
    words = WORDS[lang]
    page, traffic = open_signed_in(open_page, live_server, admin, stripe_mode, language=lang)
    page.goto("/checkout/")
    if lang == "de":
        screenshot(page, "review-stripe-desktop-de")
    type_card(page, DECLINED)
    page.get_by_role("button", name=words["place"]).click()
    expect(page.locator("#card-errors")).to_contain_text(words["declined"])
    expect(page.get_by_role("button", name=words["place"])).to_be_enabled()
    assert page.url.endswith("/checkout/")
    assert not Order.objects.exists() and not Payment.objects.exists()
    assert not PaymentMethod.objects.exists()
    assert not [url for url, _ in traffic.portal if "/checkout/place/" in url]
    traffic.assert_no_card_data_reached_the_portal(DECLINED)


def test_a_card_the_bank_declines_at_payment_orders_nothing_and_asks_again(
    open_page, live_server, admin, stripe_mode
):
    """4000 0000 0000 0341 is set up fine and declined when charged."""
    words = WORDS["en"]
    page, traffic = open_signed_in(open_page, live_server, admin, stripe_mode)
    page.goto("/checkout/")
    type_card(page, "4000000000000341")
    page.get_by_role("button", name=words["place"]).click()
    expect(page.get_by_test_id("review-error")).to_have_text(words["declined"])
    assert not Order.objects.exists()
    assert Payment.objects.get().status == Payment.Status.FAILED
    # The page asks for a card again, through Stripe.js: a new one pays.
    type_card(page, PLAIN)
    place_and_see_the_confirmation(page, words, stripe_mode)
    traffic.assert_no_card_data_reached_the_portal("4000000000000341")
    traffic.assert_no_card_data_reached_the_portal(PLAIN)
