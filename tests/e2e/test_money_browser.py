"""The account's money in Chromium: from the Billing Center to the credit history and the
billing profile with the keyboard only, on a phone and a desktop, in English and German."""

from __future__ import annotations

import pytest
from moneyed import Money
from playwright.sync_api import expect

from subscriptions import clock
from subscriptions.models import Account, CreditLedgerEntry, Subscription, User
from tests.checkout.helpers import place
from tests.e2e.conftest import DESKTOP, PHONE, screenshot, sign_in
from tests.shared_fixtures import put_in_cart

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = {
    "en": {
        "credit": "Credit history",
        "profile": "Billing profile",
        "city": "City",
        "save": "Save billing profile",
        "saved": "Billing profile saved.",
    },
    "de": {
        "credit": "Guthabenverlauf",
        "profile": "Rechnungsprofil",
        "city": "Ort",
        "save": "Rechnungsprofil speichern",
        "saved": "Rechnungsprofil gespeichert.",
    },
}


@pytest.fixture
def acme_with_credit(demo):
    """Acme gave back 3 Meeting Rooms licenses (credit), then paid an order with it."""
    account = Account.objects.get(name="Acme GmbH")
    admin = User.objects.get(email="billing.admin@acme.example")
    CreditLedgerEntry.objects.create(
        account=account,
        amount=Money("25.00", "EUR"),
        reason=CreditLedgerEntry.Reason.GOODWILL,
        created_at=clock.now(),
    )
    subscriptions = {s.plan.product.name: s for s in Subscription.objects.filter(account=account)}
    put_in_cart(subscriptions["Meeting Rooms"], 2)
    place(account, admin, at=clock.now())
    put_in_cart(subscriptions["Remote Support v5"], 11)
    place(account, admin, at=clock.now())
    return account


def tab_to(page, name: str, role: str = "link") -> None:
    """Press Tab until the element named ``name`` has the focus (the keyboard's way)."""
    target = page.get_by_role(role, name=name, exact=True)
    for _ in range(60):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {role} {name!r}")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("lang", ["en", "de"])
def test_credit_and_profile_with_the_keyboard(acme_with_credit, open_page, lang, viewport):
    words = WORDS[lang]
    size = "phone" if viewport is PHONE else "desktop"
    page = open_page(lang, viewport)
    sign_in(page, "billing.admin@acme.example")
    page.goto("/")
    expect(page.get_by_test_id("credit-balance")).not_to_have_text("")
    expect(page.get_by_test_id("next-charge-amount").first).to_be_visible()
    screenshot(page, f"money-billing-center-{lang}-{size}")

    tab_to(page, words["credit"])
    page.keyboard.press("Enter")
    page.wait_for_url("**/credit/")
    expect(page.get_by_test_id("ledger-row")).to_have_count(3)
    screenshot(page, f"money-credit-{lang}-{size}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"the Credit page is {width} px wide"

    page.goto("/")
    tab_to(page, words["profile"])
    page.keyboard.press("Enter")
    page.wait_for_url("**/billing-profile/")
    tab_to(page, words["city"], role="textbox")
    page.keyboard.press("Control+A")
    page.keyboard.type("Potsdam")
    tab_to(page, words["save"], role="button")
    page.keyboard.press("Enter")
    expect(page.get_by_text(words["saved"])).to_be_visible()
    screenshot(page, f"money-profile-saved-{lang}-{size}")
    assert Account.objects.get(pk=acme_with_credit.pk).city == "Potsdam"
