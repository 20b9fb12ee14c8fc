"""Issue #6, item 6: a state-changing request without the CSRF token is refused.

Every URL pattern of the URL conf is tried (read from it, so a new view cannot
be missed) with POST, PUT, PATCH and DELETE by a signed-in user whose browser
does not send the token: each is refused with 403 and no row changes. The
portal's own views get the real ids of Acme's things, and are also tried with
a CSRF cookie but no token and with a token that does not match the cookie.
The one exemption is the Stripe webhook, which proves its sender by a signature
instead; that is asserted explicitly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

import pytest
from django.apps import apps
from django.test import Client
from django.urls import resolve, reverse

from payments.models import StripeEvent
from subscriptions.access import SESSION_ACCOUNT_KEY
from tests.factories import MembershipFactory
from tests.hardening.routes import Route, all_routes
from tests.hardening.test_other_accounts import acme_history, ids_of, snapshot  # noqa: F401

pytestmark = pytest.mark.django_db

UNSAFE_METHODS = ("post", "put", "patch", "delete")

# By design the only view without the CSRF check: Stripe signs what it sends.
CSRF_EXEMPT = {"payments:stripe_webhook"}

ROUTES = list(all_routes())
PORTAL = [
    r
    for r in ROUTES
    if r.name.split(":")[0] in ("billing_center", "checkout", "payments", "renewals")
]
OTHERS = [r for r in ROUTES if r not in PORTAL]


def every_row_count() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


@pytest.fixture
def acme_setup(request, admin, account):
    """Acme's things, and its admin also administers Beta AG (so switching could change)."""
    history = request.getfixturevalue("acme_history")  # tests/hardening/test_other_accounts.py
    beta = MembershipFactory(user=admin, account__name="Beta AG").account
    return {"history": history, "beta": beta}


@pytest.fixture
def browser(admin) -> Client:
    """Acme's billing admin in a browser that checks CSRF like a real one."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    return client


def portal_kwargs(route: Route, history: dict) -> dict:
    """The real id of one of Acme's things for a view that takes one."""
    ids = ids_of(history)
    return ids[route.name][0] if route.name in ids else {}


BODY = {
    "seats": "6",
    "add": "1",
    "review": "x",
    "vat_number": "FR40303265045",
    "card_number": "5555 5555 5555 4444",
    "expiry": "04/31",
    "cvc": "321",
    "outcome": "authenticated",
    "setup_intent": "seti_123",
    "account": "0",
    "language": "de",
}


def send(client: Client, method: str, url: str, extra: dict | None = None):
    data = {**BODY, **(extra or {})}
    if method == "post":
        return client.post(url, data)
    encoded = "&".join(f"{key}={value}" for key, value in data.items())
    return getattr(client, method)(url, encoded, content_type="application/x-www-form-urlencoded")


def test_the_url_conf_is_read_and_every_sample_reaches_its_own_view():
    assert len(PORTAL) >= 15 and len(OTHERS) >= 20
    for route in ROUTES:
        url = route.url()
        assert resolve(url).func is route.pattern.callback, (route.name, url)


def test_only_the_stripe_webhook_is_exempt_from_the_csrf_check():
    exempt = {r.name for r in ROUTES if getattr(r.pattern.callback, "csrf_exempt", False)}
    assert exempt == CSRF_EXEMPT


@pytest.mark.parametrize(
    "route", [r for r in PORTAL if r.name not in CSRF_EXEMPT], ids=lambda route: route.name
)
def test_a_portal_request_without_the_token_is_refused_and_changes_nothing(
    acme_setup, account, browser, route
):
    url = route.url(portal_kwargs(route, acme_setup["history"]))
    before, counts = snapshot(account), every_row_count()
    chosen = browser.session.get(SESSION_ACCOUNT_KEY)
    for method in UNSAFE_METHODS:
        response = send(browser, method, url, {"account": acme_setup["beta"].pk})
        assert response.status_code == 403, (method, url, response.status_code)
        assert "CSRF" in response.content.decode(), (method, url)
    # A CSRF cookie from an earlier page, but the form lost its token; then a forged token.
    browser.cookies["csrftoken"] = "A" * 32
    for extra in ({}, {"csrfmiddlewaretoken": "B" * 32}):
        response = send(browser, "post", url, {"account": acme_setup["beta"].pk, **extra})
        assert response.status_code == 403, (extra, url)
    assert snapshot(account) == before
    assert every_row_count() == counts
    assert browser.session.get(SESSION_ACCOUNT_KEY) == chosen


@pytest.mark.parametrize("route", OTHERS, ids=lambda route: route.name)
def test_every_other_request_without_the_token_is_refused_and_changes_nothing(
    admin, browser, route
):
    """Sign-in, sign-out, password change and reset, language, and the staff admin."""
    admin.is_staff = admin.is_superuser = True  # so the admin's views would act for them
    admin.save()
    url = route.url()
    counts = every_row_count()
    for method in UNSAFE_METHODS:
        response = send(browser, method, url)
        assert response.status_code == 403, (method, url, response.status_code)
    assert every_row_count() == counts
    admin.refresh_from_db()
    assert admin.check_password("correct-horse-battery-staple")


def test_the_same_request_with_the_token_goes_through(acme_setup, account, browser):
    """The control: the 403s above are the CSRF check, not a broken request."""
    remote_support = acme_setup["history"]["subscriptions"][0]
    edit = reverse("billing_center:edit", args=[remote_support.pk])
    page = browser.get(edit).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = browser.post(edit, {"seats": "6", "add": "1", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert account.cart.lines.get(subscription=remote_support).new_seats == 6


def stripe_signature(payload: str, secret: str, at: int) -> str:
    digest = hmac.new(secret.encode(), f"{at}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def test_the_stripe_webhook_needs_no_csrf_token_but_its_signature(settings, db):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_csrf_suite"
    browser = Client(enforce_csrf_checks=True)
    url = reverse("payments:stripe_webhook")
    payload = json.dumps(
        {
            "id": "evt_csrf_suite",
            "object": "event",
            "type": "customer.created",
            "created": int(time.time()),
            "data": {"object": {"id": "cus_csrf_suite", "object": "customer"}},
        }
    )
    unsigned = browser.post(url, payload, content_type="application/json")
    assert unsigned.status_code == 400 and unsigned.content == b"Invalid signature."
    forged = browser.post(
        url,
        payload,
        content_type="application/json",
        headers={"stripe-signature": stripe_signature(payload, "whsec_other", int(time.time()))},
    )
    assert forged.status_code == 400
    assert not StripeEvent.objects.exists()
    signed = browser.post(
        url,
        payload,
        content_type="application/json",
        headers={
            "stripe-signature": stripe_signature(payload, "whsec_csrf_suite", int(time.time()))
        },
    )
    assert signed.status_code == 200  # no CSRF token: the signature is what counts
    assert StripeEvent.objects.get().event_id == "evt_csrf_suite"
