"""The pages the accessibility walk visits (who sees each, and how the browser gets there),
and how axe's findings are judged and described. Used by test_accessibility.py and
test_renewal_authentication_browser.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from axe_playwright_python.sync_playwright import Axe
from axes.utils import reset as axes_reset
from django.conf import settings
from playwright.sync_api import Page

# axe's impacts are minor, moderate, serious and critical: the two worst fail.
FAILING_IMPACTS = {"serious", "critical"}
AXE_OPTIONS = {"resultTypes": ["violations"]}
WORDS = {
    "en": {"licenses": "Number of licenses", "add": "Add to cart", "place": "Place order"},
    "de": {
        "licenses": "Anzahl der Lizenzen",
        "add": "In den Warenkorb",
        "place": "Bestellung aufgeben",
    },
}
LOCKED_OUT_EMAIL = "locked.out@example.com"
REFUSED_EMAIL = "nobody@example.com"
RESET_EMAIL = "agent2@acme.example"  # never signs in here, so its reset link stays valid


@dataclass(frozen=True)
class Urls:
    """What the walk needs to know about the seeded data."""

    edit: str
    subscribe: str
    authenticate: str
    order: str
    password_reset_confirm: str
    admin_account: str
    admin_order: str


@dataclass(frozen=True)
class Visit:
    """One page: who sees it, and how the browser gets there."""

    name: str
    who: str | None  # the email signed in, or None for a visitor
    go: Callable[[Page, Urls, str], object]


def goto(path_of: Callable[[Urls], str]) -> Callable[[Page, Urls, str], object]:
    return lambda page, urls, lang: page.goto(path_of(urls))


def at(path: str) -> Callable[[Page, Urls, str], object]:
    return lambda page, urls, lang: page.goto(path)


def sign_in_refused(page: Page, urls: Urls, lang: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", REFUSED_EMAIL)
    page.fill("#id_password", "not-the-password")
    page.locator("main form button[type=submit]").click()
    page.wait_for_selector("main .error")
    # The lockout counts failures per address too: the walk's own sign-ins must go on.
    axes_reset()


def locked_out(page: Page, urls: Urls, lang: str) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.goto("/accounts/login/")
        page.fill("#id_username", LOCKED_OUT_EMAIL)
        page.fill("#id_password", "not-the-password")
        with page.expect_response("**/accounts/login/") as response:
            page.locator("main form button[type=submit]").click()
    assert response.value.status == 429
    page.wait_for_load_state()
    axes_reset()


def home_with_menu_open(page: Page, urls: Urls, lang: str) -> None:
    page.goto("/")
    page.locator("details.menu summary").first.click()
    page.get_by_role("menuitem").first.wait_for()


def edit_with_preview(page: Page, urls: Urls, lang: str) -> None:
    page.goto(urls.edit)
    page.get_by_label(WORDS[lang]["licenses"]).fill("8")
    page.get_by_test_id("preview").wait_for()


def edit_refused(page: Page, urls: Urls, lang: str) -> None:
    page.goto(urls.edit)
    page.get_by_label(WORDS[lang]["licenses"]).fill("sieben")
    page.get_by_role("button", name=WORDS[lang]["add"], exact=True).last.click()
    page.locator("#seats-error").wait_for()


def review_with_another_card(page: Page, urls: Urls, lang: str) -> None:
    page.goto("/checkout/")
    page.locator("details.other-card summary").click()
    page.locator("#id_card_number").wait_for()


def review_card_refused(page: Page, urls: Urls, lang: str) -> None:
    """A mistyped card: the page asks for the card again, each error next to its field."""
    review_with_another_card(page, urls, lang)
    page.fill("#id_card_number", "1234")
    page.fill("#id_expiry", "13/99")
    page.fill("#id_cvc", "1")
    page.get_by_role("button", name=WORDS[lang]["place"]).click()
    page.locator("#id_card_number_error").wait_for()


def payment_method_refused(page: Page, urls: Urls, lang: str) -> None:
    page.goto("/payment-method/")
    page.fill("#id_card_number", "1234")
    page.locator("main form button[type=submit]").click()
    page.locator("#id_card_number_error").wait_for()


def password_reset_refused(page: Page, urls: Urls, lang: str) -> None:
    page.goto("/accounts/password_reset/")
    page.fill("#id_email", "not an address")
    page.locator("main form button[type=submit]").click()
    page.locator("main .error").wait_for()


def new_password_refused(page: Page, urls: Urls, lang: str) -> None:
    """Two different passwords: refused, and the link stays valid."""
    page.goto(urls.password_reset_confirm)
    page.fill("#id_new_password1", "a-long-new-password-1")
    page.fill("#id_new_password2", "another-long-password-2")
    page.locator("main form button[type=submit]").click()
    page.locator("main .error").wait_for()


def billing_profile_refused(page: Page, urls: Urls, lang: str) -> None:
    page.goto("/billing-profile/")
    page.fill("#id_vat_number", "DE 123")
    page.locator("main form button[type=submit]").click()
    page.locator("#id_vat_number-error").wait_for()


def admin_action_form(page: Page, urls: Urls, lang: str) -> None:
    page.goto("/admin/subscriptions/account/")
    page.locator("input.action-select").first.check()
    page.locator("select[name=action]").select_option(index=1)
    page.locator("button[name=index]").click()
    page.locator("#content-main form").wait_for()


def _kept_if_pending(page: Page) -> None:
    """Remote Support back to renewing (an earlier language or width canceled it)."""
    page.goto("/")
    keep = page.locator("[data-testid=ending] button")
    if keep.count():
        keep.first.click()
        page.wait_for_url("**/")


def cancel_confirmation(page: Page, urls: Urls, lang: str) -> None:
    _kept_if_pending(page)
    page.goto(urls.edit.replace("/edit/", "/cancel/"))


def billing_center_ending(page: Page, urls: Urls, lang: str) -> None:
    """Canceled at the end of the period: "Ends on" and "Keep subscription"."""
    cancel_confirmation(page, urls, lang)
    page.locator("main form button.danger").click()
    page.get_by_test_id("ending").wait_for()


def users_with_menu_open(page: Page, urls: Urls, lang: str) -> None:
    page.goto("/users/")
    page.locator("details.menu summary").first.click()
    page.get_by_role("menuitem").first.wait_for()


def users_remove(page: Page, urls: Urls, lang: str) -> None:
    page.goto("/users/")
    page.goto(page.locator("a[href$='/remove/']").first.get_attribute("href"))


def invitation_accept(page: Page, urls: Urls, lang: str) -> None:
    """A fresh invitation's page, as the new person sees it (signed out)."""
    import secrets

    from members.services import invitation_create
    from subscriptions.models import Account

    sent = invitation_create(
        account=Account.objects.get(name="Acme GmbH"),
        email=f"new.{secrets.token_hex(4)}@example.org",
        role="member",
        invited_by=None,
        language=lang,
    )
    page.goto(f"/invitations/{sent.token}/")


ANNA = "billing.admin@acme.example"
SUPPORT = "support@example.com"
VISITS = [
    Visit("sign-in", None, at("/accounts/login/")),
    Visit("sign-in-refused", None, sign_in_refused),
    Visit("locked-out", None, locked_out),
    Visit("password-reset", None, at("/accounts/password_reset/")),
    Visit("password-reset-refused", None, password_reset_refused),
    Visit("password-reset-sent", None, at("/accounts/password_reset/done/")),
    Visit("password-reset-new-password", None, goto(lambda urls: urls.password_reset_confirm)),
    Visit("password-reset-new-password-refused", None, new_password_refused),
    Visit("password-reset-link-invalid", None, at("/accounts/reset/MQ/0-invalid/")),
    Visit("password-reset-complete", None, at("/accounts/reset/done/")),
    Visit("billing-center", ANNA, home_with_menu_open),
    Visit("edit-subscription", ANNA, edit_with_preview),
    Visit("edit-subscription-refused", ANNA, edit_refused),
    Visit("subscribe-now", ANNA, goto(lambda urls: urls.subscribe)),
    Visit("cart", ANNA, at("/cart/")),
    Visit("review", ANNA, review_with_another_card),
    Visit("review-card-refused", ANNA, review_card_refused),
    Visit("authenticate", ANNA, goto(lambda urls: urls.authenticate)),
    Visit("payment-method", ANNA, at("/payment-method/")),
    Visit("payment-method-refused", ANNA, payment_method_refused),
    Visit("orders", ANNA, at("/orders/")),
    Visit("credit", ANNA, at("/credit/")),
    Visit("billing-profile", ANNA, at("/billing-profile/")),
    Visit("billing-profile-refused", ANNA, billing_profile_refused),
    Visit("cancel-subscription", ANNA, cancel_confirmation),
    Visit("billing-center-ending", ANNA, billing_center_ending),
    Visit("activity", ANNA, at("/activity/")),
    Visit("order", ANNA, goto(lambda urls: urls.order)),
    Visit("invoices", ANNA, at("/invoices/")),
    Visit("not-found", ANNA, at("/orders/BC-00000000-NOTHERE/")),
    Visit("users", ANNA, users_with_menu_open),
    Visit("users-remove", ANNA, users_remove),
    Visit("invitation-accept", None, invitation_accept),
    Visit("invitation-closed", None, at("/invitations/not-a-token/")),
    Visit("corporate", "billing.admin@globex.example", at("/")),
    Visit("no-access", "agent1@acme.example", at("/")),
    Visit("admin-sign-in", None, at("/admin/login/")),
    Visit("admin-index", SUPPORT, at("/admin/")),
    Visit("admin-accounts", SUPPORT, at("/admin/subscriptions/account/")),
    Visit("admin-account", SUPPORT, goto(lambda urls: urls.admin_account)),
    Visit("admin-account-action", SUPPORT, admin_action_form),
    Visit("admin-orders", SUPPORT, at("/admin/checkout/order/")),
    Visit("admin-order", SUPPORT, goto(lambda urls: urls.admin_order)),
    Visit("admin-invoices", SUPPORT, at("/admin/invoices/invoice/")),
]


def serious_violations(page: Page, axe: Axe) -> list[dict]:
    results = axe.run(page, options=AXE_OPTIONS)
    return [v for v in results.response["violations"] if v["impact"] in FAILING_IMPACTS]


def describe(violations: list[dict]) -> str:
    """Each violation's rule, impact, help text and the elements it found."""
    lines = []
    for violation in violations:
        lines.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']} "
            f"[{violation['helpUrl']}]"
        )
        for node in violation["nodes"]:
            lines.append(f"    {', '.join(map(str, node['target']))}: {node['html'][:200]}")
            if node.get("failureSummary"):
                lines.append("      " + node["failureSummary"].replace("\n", "\n      "))
    return "\n".join(lines)
