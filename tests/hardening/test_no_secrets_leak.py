"""Issue #6, item 10: no card number, CVC or Stripe secret reaches the database, the logs
or an email.

After a whole run the test reads everything the portal kept or said: every column of
every model (through the ORM) and a `pg_dump` of the database, the session data
decoded, every log record at DEBUG of every logger (Stripe's library and Django's
error reports included), every email (confirmations and the error reports sent to
ADMINS) and every page the admin was shown. tests/checkout/test_no_card_data_kept.py
covers Place order with the sandbox's card form; this adds the sandbox's card page and
a crash with card data in the request, and the Stripe path with its secret key and
webhook secret configured (localstripe on loopback, events delivered by it).
"""

from __future__ import annotations

import email
import io
import json
import logging
import re
import subprocess
import urllib.request
from email.policy import default as default_policy

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core import mail
from django.db import connection
from django.urls import reverse
from pypdf import PdfReader

from checkout.models import Order
from payments.models import PaymentMethod, StripeEvent
from tests.pages import review_token
from tests.payments import conftest as payments
from tests.payments import test_stripe_webhooks as webhooks
from tests.payments.conftest import STRIPE_KEY, WEBHOOK_SECRET
from tests.payments.test_stripe_webhooks import wait_for
from tests.shared_fixtures import put_in_cart

# localstripe on loopback and the portal configured for Stripe (tests/payments/conftest.py).
localstripe_url = payments.localstripe_url
stripe_settings = payments.stripe_settings
stripe_delivers_events = webhooks.stripe_delivers_events

# Not one of the test cards the sandbox's pages name, so a page showing it is an echo.
NUMBER = "5555555555554444"
TYPED = "5555 5555 5555 4444"
CVC = "073"  # a leading zero: no id or amount in a dump reads "073" on its own
PUBLISHABLE_KEY = "pk_test_portal_suite"


# -- What the portal kept and said ---------------------------------------------------------


def every_model_value() -> str:
    """Every column of every row of every model, read through the ORM."""
    values = []
    for model in apps.get_models():
        names = [field.attname for field in model._meta.concrete_fields]
        for row in model._base_manager.values_list(*names):
            values.extend(str(value) for value in row)
    for session in Session.objects.all():  # signed and encoded: read what it holds
        values.append(json.dumps(SessionStore().decode(session.session_data), default=str))
    return "\n".join(values)


def database_dump() -> str:
    """`pg_dump --data-only` of this test's database: what a backup would hold."""
    db = connection.settings_dict
    result = subprocess.run(
        [
            "pg_dump",
            "--data-only",
            "--no-owner",
            "-h",
            db["HOST"] or "127.0.0.1",
            "-p",
            str(db["PORT"] or 5432),
            "-U",
            db["USER"] or "postgres",
            db["NAME"],
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PGPASSWORD": db["PASSWORD"] or "", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "COPY public.checkout_order " in result.stdout  # it did dump the portal's tables
    return result.stdout


def every_log_line(caplog) -> str:
    """Each record as a handler would write it, with its traceback and extra attributes."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = []
    for record in caplog.records:
        lines.append(formatter.format(record))
        lines.append(repr({k: v for k, v in vars(record).items() if k not in ("msg", "args")}))
    return "\n".join(lines)


def every_email() -> str:
    """Each message as sent (headers and every part, decoded) and as built."""
    texts = []
    for message in mail.outbox:
        texts += [message.subject, message.body, *(content for content, _ in message.alternatives)]
        parsed = email.message_from_bytes(message.message().as_bytes(), policy=default_policy)
        texts += [f"{name}: {value}" for name, value in parsed.items()]
        texts += [part_text(part) for part in parsed.walk() if not part.is_multipart()]
    return "\n".join(texts)


def part_text(part) -> str:
    """A message part as text; an attached invoice PDF by its text and embedded XML."""
    content = part.get_content()
    if isinstance(content, str):
        return content
    if part.get_content_type() == "application/pdf":
        reader = PdfReader(io.BytesIO(content))
        texts = [page.extract_text() for page in reader.pages]
        texts += [data.decode() for files in reader.attachments.values() for data in files]
        return "\n".join(texts)
    return content.decode("latin-1")


def card_data_in(text: str) -> list[str]:
    found = []
    if NUMBER in re.sub(r"[\s\-]", "", text):
        found.append("card number")
    if re.search(rf"(cvc|cvv|csc|security code)\W{{0,12}}{CVC}\b", text, re.IGNORECASE):
        found.append("CVC in context")
    if re.search(rf"\b{CVC}\b", text):
        found.append("CVC")
    return found


def secrets_in(text: str) -> list[str]:
    return [
        name
        for name, secret in (("secret key", STRIPE_KEY), ("webhook secret", WEBHOOK_SECRET))
        if secret in text
    ]


def assert_nothing_leaked(caplog, pages: list[str]) -> None:
    places = {
        "database (ORM)": every_model_value(),
        "database (pg_dump)": database_dump(),
        "logs": every_log_line(caplog),
        "emails": every_email(),
        "pages": "\n".join(pages),
    }
    leaks = {where: card_data_in(text) + secrets_in(text) for where, text in places.items()}
    assert leaks == {where: [] for where in places}


@pytest.fixture
def log_everything(caplog):
    """Every logger at DEBUG, including Stripe's library and Django's request errors."""
    caplog.set_level(logging.DEBUG)
    for name in (
        "stripe",
        "django",
        "django.request",
        "checkout",
        "payments",
        "renewals",
        "celery",
        "urllib3",
    ):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
def error_reports(settings):
    """Crashes are reported to ADMINS by email, as Django does in production."""
    settings.ADMINS = [("Operations", "ops@example.com")]
    settings.DEBUG = False


# -- The sandbox: the card typed into the portal's own form --------------------------------


@pytest.mark.django_db(transaction=True)
def test_sandbox_card_page_and_a_crash_keep_no_card_data(
    frozen_now, client, admin, account, remote_support, log_everything, error_reports, monkeypatch
):
    PaymentMethod.objects.filter(account=account).delete()
    client.force_login(admin)
    pages = []
    card_page = reverse("payments:payment_method")
    # A typo: the form comes back without the number and CVC.
    typo = client.post(card_page, {"card_number": TYPED, "expiry": "13/30", "cvc": CVC})
    assert typo.status_code == 400
    pages.append(typo.content.decode())
    saved = client.post(card_page, {"card_number": TYPED, "expiry": "12/30", "cvc": CVC})
    assert saved.status_code == 302
    assert PaymentMethod.objects.get(account=account).last4 == "4444"
    pages.append(client.get(card_page).content.decode())

    # Place order with the card typed again, and the portal crashes on the way.
    put_in_cart(remote_support, 7)
    review = client.get(reverse("checkout:review")).content.decode()

    def crash(**kwargs):
        raise RuntimeError("the order service fell over")

    monkeypatch.setattr("checkout.views.order_place", crash)
    client.raise_request_exception = False
    crashed = client.post(
        reverse("checkout:place"),
        {"review": review_token(review), "card_number": TYPED, "expiry": "12/30", "cvc": CVC},
    )
    assert crashed.status_code == 500
    report = [m for m in mail.outbox if "the order service fell over" in m.body]
    assert len(report) == 1, "the crash was reported to ADMINS"
    assert "card_number = '********************'" in report[0].body  # shown, but hidden
    assert "the order service fell over" in every_log_line(log_everything)

    monkeypatch.undo()
    client.raise_request_exception = True
    placed = client.post(
        reverse("checkout:place"),
        {"review": review_token(review), "card_number": TYPED, "expiry": "12/30", "cvc": CVC},
    )
    assert placed.status_code == 302
    assert Order.objects.get().email_status == "sent"

    assert_nothing_leaked(log_everything, pages)


# -- Stripe: the secret key configured, the card collected by Stripe.js ---------------------


def stripe_js_confirms_card(localstripe_url: str, page: str) -> str:
    """What Stripe.js does in the browser: the card goes to Stripe, never to the portal.
    Plain HTTP (not the Stripe library), so the test's own requests log nothing."""
    client_secret = re.search(r"(seti_\w+?)_secret_\w+", page).group(0)
    setup_intent = client_secret.split("_secret_")[0]
    body = {
        "key": PUBLISHABLE_KEY,
        "use_stripe_sdk": True,
        "client_secret": client_secret,
        "payment_method_data": {
            "type": "card",
            "card": {"number": NUMBER, "exp_month": 12, "exp_year": 2030, "cvc": CVC},
        },
    }
    request = urllib.request.Request(
        f"{localstripe_url}/v1/setup_intents/{setup_intent}/confirm",
        data=json.dumps(body).encode(),
        method="POST",
    )
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["status"] == "succeeded"
    return setup_intent


@pytest.mark.django_db(transaction=True)
def test_stripe_path_keeps_no_card_data_and_no_secret(
    client,
    admin,
    account,
    remote_support_running,
    stripe_settings,
    localstripe_url,
    live_server,
    stripe_delivers_events,  # localstripe signs and posts its events
    log_everything,
    error_reports,
    monkeypatch,
):
    PaymentMethod.objects.filter(account=account).delete()
    client.force_login(admin)
    pages = []

    # The card page: Stripe.js collects the card; the portal gets the SetupIntent's id.
    card_page = client.get(reverse("payments:payment_method")).content.decode()
    pages.append(card_page)
    assert PUBLISHABLE_KEY in card_page and 'name="card_number"' not in card_page
    setup_intent = stripe_js_confirms_card(localstripe_url, card_page)
    saved = client.post(reverse("payments:stripe_card_saved"), {"setup_intent": setup_intent})
    assert saved.status_code == 302
    assert PaymentMethod.objects.get(account=account, is_default=True).last4 == "4444"

    # A page from before (or a script) still posts a card to Place order: refused, not kept.
    put_in_cart(remote_support_running, 7)
    review = client.get(reverse("checkout:review")).content.decode()
    pages.append(review)
    typed = client.post(
        reverse("checkout:place"),
        {"review": review_token(review), "card_number": TYPED, "expiry": "12/30", "cvc": CVC},
    )
    assert typed.status_code == 400
    pages.append(typed.content.decode())
    assert PaymentMethod.objects.filter(account=account).count() == 1

    # A crash while Stripe is configured: the error report goes to ADMINS.
    monkeypatch.setattr("checkout.views.order_place", lambda **kwargs: 1 / 0)
    client.raise_request_exception = False
    review = client.get(reverse("checkout:review")).content.decode()
    crashed = client.post(reverse("checkout:place"), {"review": review_token(review)})
    assert crashed.status_code == 500
    report = [m for m in mail.outbox if "ZeroDivisionError" in m.body]
    assert len(report) == 1 and "STRIPE_SECRET_KEY = '********************'" in report[0].body
    monkeypatch.undo()
    client.raise_request_exception = True

    # Place order through Stripe; the confirmation email and Stripe's events follow.
    placed = client.post(reverse("checkout:place"), {"review": review_token(review)}, follow=True)
    pages.append(placed.content.decode())
    assert "Your order is placed" in pages[-1]
    order = Order.objects.get()
    assert order.email_status == "sent"
    payment = order.payments.get()
    wait_for(
        lambda: StripeEvent.objects.filter(
            type="payment_intent.succeeded", payload__data__object__id=payment.reference
        ).exists()
    )
    pages.append(client.get(reverse("checkout:orders")).content.decode())
    pages.append(client.get(reverse("checkout:order", args=[order.number])).content.decode())
    assert django_settings.STRIPE_SECRET_KEY == STRIPE_KEY  # the run really used the key

    assert_nothing_leaked(log_everything, pages)
