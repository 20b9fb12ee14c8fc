"""Hardening (#6) in Chromium: the sign-in lockout page (item 7) and the
Content-Security-Policy (item 13) as a browser applies them.

Here rather than in tests/hardening because Playwright's browser is one per
session, and this folder's conftest owns it.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from subscriptions.models import Subscription
from tests.e2e import conftest as e2e
from tests.factories import UserFactory
from tests.hardening.test_sign_in_lockout import AFTER, FORGOT, LOCKED_DE, LOCKED_EN, WRONG
from tests.shared_fixtures import put_in_cart

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("language", "heading", "message"),
    [
        ("en", "Signing in is paused", LOCKED_EN),
        ("de", "Anmeldung vorübergehend gesperrt", LOCKED_DE),
    ],
)
def test_a_locked_out_visitor_sees_the_pause_on_a_phone_and_a_desktop(
    open_page, language, heading, message
):
    UserFactory(email="anna@acme.example")
    page = open_page(language, e2e.PHONE)
    refused_by_policy = []
    page.on(
        "console",
        lambda m: "Content Security Policy" in m.text and refused_by_policy.append(m.text),
    )
    for _ in range(5):
        e2e.sign_in(page, "anna@acme.example", WRONG)

    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_role("alert")).to_have_text(message + " " + AFTER[language])
    e2e.screenshot(page, f"locked_out_{language}_390")
    page.set_viewport_size(e2e.DESKTOP)
    e2e.screenshot(page, f"locked_out_{language}_1280")
    page.get_by_role("link", name=FORGOT[language]).click()
    expect(page).to_have_url(re.compile(reverse("password_reset") + "$"))
    assert refused_by_policy == []


CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


def watch_csp(page) -> list[str]:
    """What the browser refused under the policy: console errors and violation events."""
    seen: list[str] = []
    page.add_init_script(CSP_WATCH)
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            and "Content Security Policy" in message.text
            and seen.append(message.text)
        ),
    )
    return seen


def visit(page, url: str, seen: list[str]) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    assert "Content-Security-Policy" in {name.title() for name in response.headers}
    page.wait_for_load_state("networkidle")
    seen.extend(f"{url}: {v}" for v in page.evaluate("window.__cspViolations"))


def test_the_portal_and_the_admin_break_no_rule_of_the_policy_in_chromium(demo, open_page):
    subscription = Subscription.objects.filter(account__name="Acme GmbH").order_by("pk").first()
    put_in_cart(subscription, subscription.seats + 1)

    page = open_page("en")
    seen = watch_csp(page)
    e2e.sign_in(page, "billing.admin@acme.example")
    visit(page, reverse("billing_center:home"), seen)
    page.locator("summary", has_text="Options").first.click()  # the menu's script runs
    visit(page, reverse("billing_center:edit", args=[subscription.pk]), seen)
    page.get_by_role("button", name="One license more").click()  # the live preview fetches
    page.wait_for_load_state("networkidle")
    visit(page, reverse("checkout:review"), seen)
    visit(page, reverse("payments:payment_method"), seen)

    staff = open_page("en")
    seen_by_staff = watch_csp(staff)
    e2e.sign_in(staff, "ops@example.com")
    visit(staff, reverse("admin:index"), seen_by_staff)
    visit(staff, reverse("admin:subscriptions_account_changelist"), seen_by_staff)
    staff.locator("#action-toggle").check()  # the change list's action script runs
    visit(
        staff,
        reverse("admin:subscriptions_account_change", args=[subscription.account_id]),
        seen_by_staff,
    )
    visit(staff, reverse("admin:subscriptions_subscription_changelist"), seen_by_staff)

    assert seen == []
    assert seen_by_staff == []

    # The watch is not blind: an injected inline script is refused and reported.
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__inlineRan = true'; document.body.append(s); }"
    )
    page.wait_for_timeout(200)
    assert page.evaluate("window.__inlineRan === undefined")
    assert any("script-src" in v for v in page.evaluate("window.__cspViolations"))
