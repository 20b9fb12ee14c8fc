"""Issue #6, item 8: webhooks under attack.

A forged, unsigned, stale or replayed event is refused (400) or changes nothing
(payments, orders, stored events, licenses). Events out of order:
test_webhook_order.py; the shared helpers: tests/hardening/webhooks.py.
Stripe is localstripe on loopback; events are signed exactly as Stripe signs them.
tests/payments/test_stripe_webhooks.py has the basic cases; these go further.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

import pytest
from django.core import mail

from checkout.models import Order
from checkout.services import PaymentRequiresAction
from payments.models import Payment, StripeEvent
from tests.hardening import webhooks
from tests.hardening.webhooks import WEBHOOK, deliver, event_body, money_state, now, sign
from tests.payments.conftest import STRIPE_KEY
from tests.payments.test_stripe_payments import (
    authenticate_at_stripe,
    card_on_file,
    place,
)

# Fixtures: localstripe on loopback, a Stripe-configured billing admin, and the payments
# to attack (tests/hardening/webhooks.py).
localstripe_url = webhooks.localstripe_url
stripe_settings = webhooks.stripe_settings
stripe_admin = webhooks.stripe_admin
awaiting_authentication = webhooks.awaiting_authentication
placed = webhooks.placed


# -- Forged and unsigned -------------------------------------------------------------------


def _forgeries(body: str, at: int) -> dict[str, tuple[str | bytes, str | None]]:
    good = sign(body, at=at)
    other_body = body.replace('"evt_', '"evt_x')
    timestamp, v1 = good.split(",")
    return {
        "no Stripe-Signature header": (body, None),
        "empty header": (body, ""),
        "garbage header": (body, "not a signature"),
        "signature without a timestamp": (body, v1),
        "timestamp without a signature": (body, timestamp),
        "signed with another secret": (body, sign(body, at=at, secret="whsec_attacker")),
        "signed with the API key": (body, sign(body, at=at, secret=STRIPE_KEY)),
        "only a v0 (test-mode scheme) signature": (body, sign(body, at=at, scheme="v0")),
        "signature of another body": (body, sign(other_body, at=at)),
        "body changed after signing": (other_body, good),
        "timestamp changed after signing": (body, f"t={at - 1},{v1}"),
        "signature truncated": (body, good[:-2]),
        "not UTF-8": (b"\xff\xfe" + body.encode(), sign(body, at=at)),
        "signed, but not JSON": ("{not json", sign("{not json", at=at)),
    }


FORGERIES = list(_forgeries("{}", 0))


@pytest.mark.django_db
@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_success_is_refused_and_places_nothing(client, awaiting_authentication, forgery):
    at = now()
    body = event_body(
        "evt_forged_success", "payment_intent.succeeded", awaiting_authentication, created=at
    )
    payload, signature = _forgeries(body, at)[forgery]
    before = money_state()
    response = deliver(client, payload, signature, at=at)
    assert response.status_code == 400, forgery
    assert money_state() == before
    assert not Order.objects.exists() and not StripeEvent.objects.exists()
    assert Payment.objects.get().status == "requires_action"


@pytest.mark.django_db
def test_without_a_configured_secret_every_event_is_refused(
    client, awaiting_authentication, settings
):
    at = now()
    body = event_body(
        "evt_unconfigured", "payment_intent.succeeded", awaiting_authentication, created=at
    )
    settings.STRIPE_WEBHOOK_SECRET = ""
    # Not even one signed with the empty secret an attacker could guess.
    before = money_state()
    assert deliver(client, body, sign(body, at=at, secret=""), at=at).status_code == 400
    assert deliver(client, body, None, at=at).status_code == 400
    assert money_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "head", "options"])
def test_only_post_reaches_the_webhook(client, stripe_settings, method):
    assert getattr(client, method)(WEBHOOK).status_code == 405
    assert not StripeEvent.objects.exists()


# -- Stale ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("age", [301, 302, 3600, 86400 * 30])
def test_a_stale_signature_is_refused_however_genuine(
    client, awaiting_authentication, age, django_capture_on_commit_callbacks
):
    """Captured traffic replayed later: the bank really confirmed it, the signature is
    right, but it was signed more than five minutes ago."""
    authenticate_at_stripe(awaiting_authentication, success=True)
    at = now()
    signed_at = at - age
    body = event_body(
        "evt_captured", "payment_intent.succeeded", awaiting_authentication, created=signed_at
    )
    before = money_state()
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, body, sign(body, at=signed_at), at=at)
    assert response.status_code == 400
    assert money_state() == before
    assert mail.outbox == []


@pytest.mark.django_db
@pytest.mark.parametrize("age", [0, 299, 300])
def test_a_signature_up_to_five_minutes_old_is_accepted(
    client, awaiting_authentication, age, django_capture_on_commit_callbacks
):
    authenticate_at_stripe(awaiting_authentication, success=True)
    at = now() + age  # the delivery is late; the event is not older than the payment
    body = event_body("evt_slow", "payment_intent.succeeded", awaiting_authentication, created=at)
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, body, sign(body, at=at - age), at=at)
    assert (response.status_code, response.content) == (200, b"payment succeeded")
    order = Order.objects.get()  # the admin had left; the event placed the order
    assert Payment.objects.get().order == order
    assert len(mail.outbox) == 1


# -- Replayed -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_replayed_success_places_one_order_and_sends_one_email(
    client, awaiting_authentication, django_capture_on_commit_callbacks
):
    authenticate_at_stripe(awaiting_authentication, success=True)
    at = now()
    body = event_body("evt_ok", "payment_intent.succeeded", awaiting_authentication, created=at)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, body, sign(body, at=at), at=at).content == b"payment succeeded"
    after_first = money_state()
    with django_capture_on_commit_callbacks(execute=True):
        for delay in (0, 5, 60):  # Stripe's own redelivery, re-signed each time
            again = deliver(client, body, sign(body, at=at + delay), at=at + delay)
            assert (again.status_code, again.content) == (200, b"duplicate")
    assert money_state() == after_first
    assert Order.objects.count() == 1 and len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_reused_event_id_with_other_content_changes_nothing(
    client, placed, django_capture_on_commit_callbacks
):
    at = now()
    with django_capture_on_commit_callbacks(execute=True):
        body = event_body("evt_1", "payment_intent.succeeded", placed, created=at)
        assert deliver(client, body, sign(body, at=at), at=at).content == b"payment succeeded"
    before = money_state()
    reused = event_body(
        "evt_1",
        "payment_intent.payment_failed",
        placed,
        created=at + 10,
        last_payment_error={"code": "card_declined", "decline_code": "stolen_card"},
    )
    response = deliver(client, reused, sign(reused, at=at + 10), at=at + 10)
    assert (response.status_code, response.content) == (200, b"duplicate")
    assert money_state() == before
    assert StripeEvent.objects.get().type == "payment_intent.succeeded"


@pytest.mark.django_db(transaction=True)
def test_the_same_event_delivered_at_once_places_one_order(stripe_admin, live_server):
    """Stripe retries a delivery while the first is still running: one event row,
    one order, one payment, one email."""
    card_on_file(stripe_admin, "4000002500003155")
    with pytest.raises(PaymentRequiresAction) as needs_action:
        place(stripe_admin)
    payment = needs_action.value.payment
    authenticate_at_stripe(payment, success=True)  # the admin closed the tab afterwards
    created = int(time.time())
    body = event_body("evt_twice", "payment_intent.succeeded", payment, created=created)
    signature = sign(body, at=created)
    start = threading.Barrier(6)
    answers: list[bytes] = []

    def deliver_live() -> None:
        request = urllib.request.Request(live_server.url + WEBHOOK, data=body.encode())
        request.add_header("Content-Type", "application/json")
        request.add_header("Stripe-Signature", signature)
        start.wait(10)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answers.append(response.read())
        except urllib.error.HTTPError as error:
            answers.append(f"HTTP {error.code}".encode())

    threads = [threading.Thread(target=deliver_live) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [b"duplicate"] * 5 + [b"payment succeeded"]
    assert StripeEvent.objects.count() == 1
    order = Order.objects.get()
    assert Payment.objects.get().order == order
    assert len(mail.outbox) == 1
