"""Every page a user can reach, checked by axe-core in Chromium: English and German,
phone and desktop width, no violation of impact "serious" or "critical".

axe-core comes inside the axe-playwright-python package (its axe.min.js), so the
check runs offline. One walk visits every page in each language and width and
keeps axe's findings; each page, language and width is then a test of its own, so
a failure names all three. The walk runs once for the module, after the few steps
that set up what the pages show (an order placed, a payment waiting for the bank,
a line in the cart); after that it only reads, refused forms and sign-ins aside.
"""

from __future__ import annotations

import io
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.tokens import default_token_generator
from django.core.management import call_command
from django.db import connection, connections
from django.test import override_settings
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from checkout.models import Order
from payments.models import PaymentMethod
from subscriptions.models import Account, Subscription, User
from tests.e2e.accessibility_pages import (
    ANNA,
    RESET_EMAIL,
    VISITS,
    Urls,
    describe,
    serious_violations,
)
from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    DESKTOP,
    PASSWORD,
    PHONE,
    screenshot,
    sign_in,
)

LANGUAGES = ("en", "de")
WIDTHS = {"phone": PHONE, "desktop": DESKTOP}


def prepare(browser, base_url: str) -> Urls:
    """The demo data, plus what the pages need to show: a placed order, a payment
    waiting for the bank, a cart line and a valid reset link."""
    call_command("seed_demo", force=True, stdout=io.StringIO())
    acme = Account.objects.get(name="Acme GmbH")
    remote_support = Subscription.objects.get(account=acme, plan__product__name="Remote Support v5")
    trial = Subscription.objects.get(account=acme, plan__product__name="Remote Access")
    context = browser.new_context(base_url=base_url, viewport=DESKTOP, locale="en")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in(page, ANNA)
        for seats, last4 in (("8", "4242"), ("9", "3155")):  # 3155: the bank asks to confirm
            PaymentMethod.objects.filter(account=acme).update(last4=last4)
            page.goto(f"/subscriptions/{remote_support.pk}/edit/")
            page.get_by_label("Number of licenses").fill(seats)
            page.get_by_role("button", name="Add to cart", exact=True).last.click()
            page.wait_for_url("**/cart/")
            page.goto("/checkout/")
            page.get_by_role("button", name="Place order").click()
            page.wait_for_url("**/orders/BC-*/" if last4 == "4242" else "**/authenticate/")
        authenticate = page.url.removeprefix(base_url)
        PaymentMethod.objects.filter(account=acme).update(last4="4242")
    finally:
        context.close()
    order = Order.objects.get(account=acme)
    resetting = User.objects.get(email=RESET_EMAIL)
    uid = urlsafe_base64_encode(force_bytes(resetting.pk))
    return Urls(
        edit=f"/subscriptions/{remote_support.pk}/edit/",
        subscribe=f"/subscriptions/{trial.pk}/edit/",
        authenticate=authenticate,
        order=f"/orders/{order.number}/",
        password_reset_confirm=(
            f"/accounts/reset/{uid}/{default_token_generator.make_token(resetting)}/"
        ),
        admin_account=f"/admin/subscriptions/account/{acme.pk}/change/",
        admin_order=f"/admin/checkout/order/{order.pk}/change/",
    )


def walk(browser, base_url: str, urls: Urls, wanted: set) -> dict[tuple[str, str, str], str]:
    """{(page, language, width): what axe found, "" for nothing serious}."""
    axe = Axe()
    findings = {}
    for lang in LANGUAGES:
        for width, viewport in WIDTHS.items():
            contexts = {}
            try:
                for visit in VISITS:
                    if (visit.name, lang, width) not in wanted:
                        continue
                    if visit.who not in contexts:
                        contexts[visit.who] = browser.new_context(
                            base_url=base_url,
                            viewport=viewport,
                            locale=lang,
                            extra_http_headers={"Accept-Language": lang},
                        )
                        contexts[visit.who].set_default_timeout(10_000)
                        page = contexts[visit.who].new_page()
                        if visit.who:
                            sign_in(page, visit.who, PASSWORD)
                            assert "/accounts/login/" not in page.url, f"{visit.who} signed in"
                    page = contexts[visit.who].pages[0]
                    try:
                        visit.go(page, urls, lang)
                        page.wait_for_load_state()
                        if visit.who:
                            assert "/accounts/login/" not in page.url, page.url
                        assert page.locator("html").get_attribute("lang") == lang, page.url
                        screenshot(page, f"{visit.name}-{lang}-{width}")  # with SCREENSHOT_DIR
                        findings[visit.name, lang, width] = describe(serious_violations(page, axe))
                    except Exception as error:  # this page's test fails, the others go on
                        findings[visit.name, lang, width] = f"could not check {page.url}: {error}"
            finally:
                for context in contexts.values():
                    context.close()
    return findings


def selected(items) -> set[tuple[str, str, str]]:
    """The (page, language, width) of the walk's tests that run (`-k` picks a few)."""
    return {
        tuple(item.callspec.params[name] for name in ("page_name", "lang", "width"))
        for item in items
        if getattr(item, "originalname", None) == test_no_serious_accessibility_violation.__name__
        and item.module.__name__ == __name__
    }


@contextmanager
def own_browser():
    """Chromium for the walk alone, stopped before the module's tests run.

    While Playwright's sync API runs, asyncio counts a loop as running in this
    thread, and Django then keeps its database connections per context instead of
    per thread: a connection opened meanwhile is not the one the drop of the test
    database at the end closes ("being accessed by other users"). These tests roll
    back, so pytest-django runs them before the browser tests, among other tests
    that roll back: so the walk does not start the session's `browser` (those tests
    would all run with Playwright started), and closes its connections before
    Playwright stops.
    """
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
            connections.close_all()


@pytest.fixture(scope="module")
def axe_findings(request, django_db_setup, django_db_blocker):
    """The walk, once for the module, on data of its own; the database is as before after.

    It serves the portal itself rather than through `live_server`: a test that asks
    for `live_server` gets pytest-django's `transactional_db`, which empties every
    table after each test, and these tests only read what the walk found.
    """
    with django_db_blocker.unblock():
        # What the migrations put in (the EU VAT rates, ...): the tests that run after
        # this module inside a rolled-back transaction read it.
        before = connection.creation.serialize_db_to_string()
    try:
        with (
            django_db_blocker.unblock(),
            override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]),
        ):
            server = LiveServer("localhost")
            server._live_server_modified_settings.enable()  # its host in ALLOWED_HOSTS
            try:
                with own_browser() as browser:
                    urls = prepare(browser, server.url)
                    findings = walk(browser, server.url, urls, selected(request.session.items))
            finally:
                server._live_server_modified_settings.disable()
                server.stop()
        yield findings
    finally:
        with django_db_blocker.unblock():
            # As Django's serialized_rollback: every table emptied, the rows from before
            # put back.
            call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True)
            connection.creation.deserialize_db_from_string(before)
            connections.close_all()


# The mark makes pytest-django create the test database, which the walk uses; each
# test itself reads only the walk's findings (a rolled-back transaction, no flush).
@pytest.mark.django_db
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("page_name", [visit.name for visit in VISITS])
def test_no_serious_accessibility_violation(axe_findings, page_name, lang, width):
    found = axe_findings[page_name, lang, width]
    assert not found, f"axe-core on {page_name} ({lang}, {width}):\n{found}"


# What axe cannot see: an aria-describedby naming an id that is not on the page
# passes its rules, but a screen reader then reads no error with the field.
REFUSALS = {
    "en": {
        "email": "Enter a valid email address.",
        "mismatch": "The two password fields didn’t match.",
    },
    "de": {
        "email": "Bitte gültige E-Mail-Adresse eingeben.",
        "mismatch": "Die beiden Passwörter sind nicht identisch.",
    },
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_refused_reset_request_reads_its_error_with_the_field(open_page, lang):
    page = open_page(lang, viewport=PHONE)
    page.goto("/accounts/password_reset/")
    page.fill("#id_email", "not an address")
    page.locator("main form button[type=submit]").click()
    email = page.locator("#id_email")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description(REFUSALS[lang]["email"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_refused_new_password_reads_its_error_with_the_field(open_page, lang):
    user = User.objects.create_user("forgetful@example.com", "old-password-2026")
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    page = open_page(lang, viewport=PHONE)
    page.goto(f"/accounts/reset/{uid}/{default_token_generator.make_token(user)}/")
    page.fill("#id_new_password1", "a-long-new-password-1")
    page.fill("#id_new_password2", "another-long-password-2")
    page.locator("main form button[type=submit]").click()
    repeated = page.locator("#id_new_password2")
    expect(repeated).to_have_attribute("aria-invalid", "true")
    expect(repeated).to_have_accessible_description(REFUSALS[lang]["mismatch"])
    user.refresh_from_db()
    assert user.check_password("old-password-2026")
