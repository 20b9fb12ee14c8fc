"""The billing admin's whole flow in a real browser, in English and in German."""

from __future__ import annotations

import zoneinfo

import pytest
from django.utils import formats, translation
from moneyed.l10n import format_money
from playwright.sync_api import expect

from checkout.models import CartLine, Order
from subscriptions.models import Subscription
from subscriptions.proration import quote_seat_change
from subscriptions.selectors import account_tax_treatment
from tests.checkout.conftest import put_in_cart
from tests.e2e.conftest import PHONE, screenshot, sign_in
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = {
    "en": {
        "options": "Options",
        "edit": "Edit subscription",
        "licenses": "Number of licenses",
        "fewer": "One license fewer",
        "add": "Add to cart",
        "checkout": "Checkout",
        "change": "Change order",
        "place": "Place order",
        "subscribe": "Subscribe now",
        "assigned": "3 licenses are assigned to users. Unassign users first to go below 3.",
        "whole": "Enter the number of licenses as a whole number, such as 7.",
        "at_least_one": "You need at least 1 license.",
        "at_most": "This plan allows at most 1000 licenses.",
        "no_change": "The subscription already has 10 licenses. Choose another number.",
        "corporate": "Go to the Corporate Billing Portal",
        "locale": "en_US",
    },
    "de": {
        "options": "Optionen",
        "edit": "Abonnement bearbeiten",
        "licenses": "Anzahl der Lizenzen",
        "fewer": "Eine Lizenz weniger",
        "add": "In den Warenkorb",
        "checkout": "Zur Kasse",
        "change": "Bestellung ändern",
        "place": "Bestellung aufgeben",
        "subscribe": "Jetzt abonnieren",
        "assigned": "3 Lizenzen sind Benutzern zugewiesen. Heben Sie zuerst Zuweisungen auf, "
        "um unter 3 zu gehen.",
        "whole": "Geben Sie die Anzahl der Lizenzen als ganze Zahl ein, z. B. 7.",
        "at_least_one": "Sie benötigen mindestens 1 Lizenz.",
        "at_most": "Dieser Plan erlaubt höchstens 1000 Lizenzen.",
        "no_change": "Das Abonnement hat bereits 10 Lizenzen. Wählen Sie eine andere Anzahl.",
        "corporate": "Zum Corporate Billing Portal",
        "locale": "de_DE",
    },
}
LANGUAGES = pytest.mark.parametrize("lang", ["en", "de"])
ORDER_AMOUNTS = (
    "credit", "charge", "subtotal", "tax", "total", "credit_applied", "credit_added", "amount_due",
)  # fmt: skip


def shown(page, testid: str) -> str:
    return page.get_by_test_id(testid).first.inner_text().strip()


def local_date(instant, lang: str, time_zone: str = "Europe/Berlin") -> str:
    with translation.override(lang):
        return formats.date_format(instant.astimezone(zoneinfo.ZoneInfo(time_zone)), "DATE_FORMAT")


def open_edit_from_the_options_menu(page, words: dict, product: str) -> None:
    """Keyboard only: focus Options, Enter opens the menu, Enter on Edit subscription."""
    card = page.locator("article", has_text=product)
    card.get_by_text(words["options"]).focus()
    page.keyboard.press("Enter")
    item = card.get_by_role("menuitem", name=words["edit"])
    expect(item).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url("**/edit/")


@LANGUAGES
def test_billing_admin_takes_remote_support_from_10_to_7_licenses(demo, open_page, lang):
    words = WORDS[lang]
    subscription = Subscription.objects.get(plan__product__name="Remote Support v5", seats=10)
    before = (subscription.current_period_start, subscription.current_period_end)
    page = open_page(lang)
    sign_in(page, "billing.admin@acme.example")
    screenshot(page, f"billing-center-{lang}")
    open_edit_from_the_options_menu(page, words, "Remote Support v5")

    seats = page.get_by_label(words["licenses"])
    expect(seats).to_have_value("10")
    for _ in range(3):
        page.get_by_role("button", name=words["fewer"]).click()
    expect(seats).to_have_value("7")
    expect(page.get_by_test_id("preview-total")).to_be_visible()
    screenshot(page, f"edit-{lang}")
    page.get_by_role("button", name=words["add"]).click()
    page.get_by_role("link", name=words["checkout"]).click()
    expect(page.get_by_test_id("licenses")).to_have_text("10 → 7")

    # Change order goes back with 7 kept; add it again and check out.
    page.get_by_role("link", name=words["change"]).click()
    expect(page.get_by_label(words["licenses"])).to_have_value("7")
    page.get_by_role("button", name=words["add"]).click()
    page.get_by_role("link", name=words["checkout"]).click()
    screenshot(page, f"review-{lang}")
    on_review = {
        name: shown(page, name)
        for name in ("period", "charge", "credit", "subtotal", "tax", "total", "amount-due")
    }
    page.get_by_role("button", name=words["place"]).click()
    page.wait_for_url("**/orders/BC-*/")
    screenshot(page, f"confirmation-{lang}")

    order = Order.objects.get()
    quote = quote_seat_change(
        unit_price=subscription.plan.price,
        interval="month",
        current_seats=10,
        new_seats=7,
        period_start=before[0],
        period_end=before[1],
        at=order.effective_at,
        tax_rate=account_tax_treatment(account=subscription.account).rate,
        account_credit=order.credit_applied * 0,
    )

    def money(amount):
        return format_money(amount, locale=words["locale"])

    assert on_review == {
        "period": f"{local_date(quote.new_period_start, lang)} – "
        f"{local_date(quote.new_period_end, lang)}",
        "charge": money(quote.charge),
        "credit": "−" + money(quote.credit),
        "subtotal": money(quote.subtotal),
        "tax": money(quote.tax),
        "total": money(quote.total),
        "amount-due": money(quote.amount_due),
    }
    assert order.amount_due == quote.amount_due
    expect(page.get_by_test_id("confirmation")).to_contain_text("10 → 7")
    expect(page.get_by_test_id("amount-charged")).to_have_text(money(quote.amount_due))

    page.goto("/")
    card = page.locator("article", has_text="Remote Support v5")
    expect(card.get_by_test_id("seats")).to_have_text("7")
    expect(card.get_by_test_id("next-billing-date")).to_have_text(
        local_date(quote.new_period_end, lang)
    )
    subscription.refresh_from_db()
    assert (subscription.seats, subscription.billing_anchor) == (7, order.effective_at)


@LANGUAGES
def test_each_refusal_is_said_next_to_the_field(demo, open_page, lang):
    words = WORDS[lang]
    subscription = Subscription.objects.get(plan__product__name="Remote Support v5", seats=10)
    page = open_page(lang, viewport=PHONE)
    sign_in(page, "billing.admin@acme.example")
    page.goto(f"/subscriptions/{subscription.pk}/edit/")
    for typed, message in [
        ("sieben", words["whole"]),
        ("0", words["at_least_one"]),
        ("1001", words["at_most"]),
        ("2", words["assigned"]),
        ("10", words["no_change"]),
    ]:
        page.get_by_label(words["licenses"]).fill(typed)
        page.get_by_role("button", name=words["add"]).click()
        expect(page.locator("#seats-error")).to_have_text(message)
    screenshot(page, f"edit-refused-phone-{lang}")
    assert not CartLine.objects.exists()


def test_a_double_click_and_a_resubmitted_form_make_one_order(demo, open_page):
    subscription = Subscription.objects.get(account__name="Acme GmbH", seats=10)
    page = open_page("en", javascript=False)  # no JS guard: the server alone must hold
    sign_in(page, "billing.admin@acme.example")
    page.goto(f"/subscriptions/{subscription.pk}/edit/")
    page.get_by_label("Number of licenses").fill("8")
    page.get_by_label("Number of licenses").press("Enter")  # Enter means Add to cart
    page.wait_for_url("**/cart/")
    page.get_by_role("link", name="Checkout").click()
    form = {
        "review": page.locator("input[name=review]").input_value(),
        "csrfmiddlewaretoken": page.locator("input[name=csrfmiddlewaretoken]").last.input_value(),
    }
    page.get_by_role("button", name="Place order").dblclick()
    page.wait_for_url("**/orders/BC-*/")
    order_url = page.url
    # The same form sent again, as the back button and "resubmit" would.
    again = page.request.post("/checkout/place/", form=form, headers={"Referer": page.url})
    assert again.url == order_url
    assert Order.objects.count() == 1
    subscription.refresh_from_db()
    assert subscription.seats == 8


@LANGUAGES
def test_an_expired_trial_is_bought_with_subscribe_now(demo, open_page, lang):
    words = WORDS[lang]
    page = open_page(lang)
    sign_in(page, "billing.admin@acme.example")
    card = page.locator("article", has_text="Remote Access")
    expect(card.get_by_text(words["options"])).to_have_count(0)
    card.get_by_role("link", name=words["subscribe"]).click()
    page.get_by_label(words["licenses"]).fill("2")
    page.get_by_role("button", name=words["add"]).click()
    page.get_by_role("link", name=words["checkout"]).click()
    expect(page.get_by_test_id("licenses")).to_have_text("0 → 2")
    page.get_by_role("button", name=words["place"]).click()
    page.wait_for_url("**/orders/BC-*/")
    trial = Subscription.objects.get(plan__product__name="Remote Access")
    assert (trial.status, trial.seats) == ("active", 2)
    page.goto("/")
    expect(
        page.locator("article", has_text="Remote Access").get_by_text(words["options"])
    ).to_be_visible()


@LANGUAGES
def test_a_corporate_account_is_pointed_to_its_billing_portal(demo, open_page, lang, settings):
    page = open_page(lang, viewport=PHONE)
    sign_in(page, "billing.admin@globex.example")
    link = page.get_by_role("link", name=WORDS[lang]["corporate"])
    expect(link).to_have_attribute("href", settings.CORPORATE_BILLING_URL)
    expect(page.get_by_text(WORDS[lang]["options"])).to_have_count(0)
    screenshot(page, f"corporate-phone-{lang}")


def test_another_accounts_pages_are_not_found(demo, open_page):
    intruder = MembershipFactory(account__name="Intruder Ltd").user
    intruder.set_password("intruder-password-1")
    intruder.save()
    acme = Subscription.objects.get(
        account__name="Acme GmbH", plan__product__name="Remote Support v5"
    )
    line = put_in_cart(acme, 7)
    order = Order.objects.create(
        number="BC-20261126-ACME0001",
        account=acme.account,
        placed_at=acme.current_period_start,
        effective_at=acme.current_period_start,
        idempotency_key="acme-checkout",
        tax_kind="domestic",
        tax_rate=19,
        **{name: acme.plan.price * 0 for name in ORDER_AMOUNTS},
    )
    page = open_page("en")
    sign_in(page, intruder.email, "intruder-password-1")
    for url in (
        f"/subscriptions/{acme.pk}/edit/",
        f"/subscriptions/{acme.pk}/preview/?seats=7",
        f"/orders/{order.number}/",
    ):
        response = page.goto(url)
        assert response.status == 404, url
        expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    page.goto("/")
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    removal = page.request.post(
        f"/cart/lines/{line.pk}/remove/",
        headers={"X-CSRFToken": csrf, "Referer": page.url},
    )
    assert removal.status == 404
    assert CartLine.objects.filter(pk=line.pk).exists()
