"""Cancel at the end of the period and keep it, with the keyboard only, on a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from subscriptions.models import AuditEntry, Subscription
from tests.e2e.conftest import PHONE, screenshot, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = {
    "en": {
        "options": "Options",
        "cancel": "Cancel subscription",
        "confirm": "Cancel at the end of the period",
        "ends": "Ends on",
        "keep": "Keep subscription",
        "next": "Next billing date",
    },
    "de": {
        "options": "Optionen",
        "cancel": "Abonnement kündigen",
        "confirm": "Zum Ende des Zeitraums kündigen",
        "ends": "Endet am",
        "keep": "Abonnement behalten",
        "next": "Nächstes Rechnungsdatum",
    },
}


@pytest.mark.parametrize("lang", ["en", "de"])
def test_cancel_and_keep_with_the_keyboard(demo, open_page, lang):
    words = WORDS[lang]
    subscription = Subscription.objects.get(
        account__name="Acme GmbH", plan__product__name="Remote Support v5"
    )
    page = open_page(lang, PHONE)
    sign_in(page, "billing.admin@acme.example")
    card = page.locator("article", has=page.get_by_role("heading", name="Remote Support v5"))
    card.get_by_text(words["options"]).focus()
    page.keyboard.press("Enter")
    cancel = card.get_by_role("menuitem", name=words["cancel"])
    cancel.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/subscriptions/{subscription.pk}/cancel/")
    page.get_by_role("button", name=words["confirm"]).focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/")
    card = page.locator("article", has=page.get_by_role("heading", name="Remote Support v5"))
    expect(card.get_by_text(words["ends"], exact=True)).to_be_visible()
    screenshot(page, f"cancel-ends-on-{lang}")
    card.get_by_role("button", name=words["keep"]).focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/")
    card = page.locator("article", has=page.get_by_role("heading", name="Remote Support v5"))
    expect(card.get_by_text(words["next"], exact=True)).to_be_visible()
    subscription.refresh_from_db()
    assert not subscription.cancel_at_period_end
    assert list(AuditEntry.objects.order_by("at", "id").values_list("action", flat=True)) == [
        "cancel_at_period_end",
        "reactivated",
    ]
