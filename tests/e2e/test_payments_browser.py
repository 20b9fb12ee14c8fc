"""Paying in the browser: the bank's authentication step and replacing the card."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from checkout.models import Order
from payments.models import PaymentMethod
from subscriptions.models import Subscription
from tests.e2e.conftest import PHONE, screenshot, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = {
    "en": {
        "licenses": "Number of licenses",
        "add": "Add to cart",
        "checkout": "Checkout",
        "place": "Place order",
        "confirm": "Confirm payment",
        "cancel": "Cancel payment",
        "declined": "The payment was not authenticated, so nothing was ordered.",
        "save": "Save card",
        "saved": "Your new card is saved",
    },
    "de": {
        "licenses": "Anzahl der Lizenzen",
        "add": "In den Warenkorb",
        "checkout": "Zur Kasse",
        "place": "Bestellung aufgeben",
        "confirm": "Zahlung bestätigen",
        "cancel": "Zahlung abbrechen",
        "declined": "Die Zahlung wurde nicht bestätigt, daher wurde nichts bestellt.",
        "save": "Karte speichern",
        "saved": "Ihre neue Karte ist gespeichert",
    },
}


def to_checkout(page, words, subscription, seats: str) -> None:
    page.goto(f"/subscriptions/{subscription.pk}/edit/")
    page.get_by_label(words["licenses"]).fill(seats)
    page.get_by_role("button", name=words["add"]).click()
    page.get_by_role("link", name=words["checkout"]).click()


@pytest.mark.parametrize("lang", ["en", "de"])
def test_the_bank_asks_to_authenticate_then_the_order_is_placed(demo, open_page, lang):
    words = WORDS[lang]
    PaymentMethod.objects.filter(account__name="Acme GmbH").update(last4="3155")
    subscription = Subscription.objects.get(account__name="Acme GmbH", seats=10)
    page = open_page(lang, viewport=PHONE)
    sign_in(page, "billing.admin@acme.example")
    to_checkout(page, words, subscription, "8")
    page.get_by_role("button", name=words["place"]).click()
    page.wait_for_url("**/authenticate/")
    screenshot(page, f"authenticate-phone-{lang}")
    # First the admin cancels: nothing is ordered, the cart is kept.
    page.get_by_role("button", name=words["cancel"]).click()
    expect(page.get_by_text(words["declined"])).to_be_visible()
    assert not Order.objects.exists()
    page.get_by_role("button", name=words["place"]).click()
    page.wait_for_url("**/authenticate/")
    page.get_by_role("button", name=words["confirm"]).click()
    page.wait_for_url("**/orders/BC-*/")
    subscription.refresh_from_db()
    assert subscription.seats == 8 and Order.objects.count() == 1


@pytest.mark.parametrize("lang", ["en", "de"])
def test_replacing_the_card_on_file(demo, open_page, lang):
    words = WORDS[lang]
    page = open_page(lang)
    sign_in(page, "billing.admin@acme.example")
    page.goto("/payment-method/")
    screenshot(page, f"payment-method-{lang}")
    page.locator("#id_card_number").fill("5555 5555 5555 4444")
    page.locator("#id_expiry").fill("04/31")
    page.locator("#id_cvc").fill("321")
    page.get_by_role("button", name=words["save"]).click()
    expect(page.get_by_text(words["saved"])).to_be_visible()
    expect(page.get_by_test_id("card-on-file")).to_contain_text("Mastercard •••• 4444")
