"""Stripe webhooks: localstripe signs and delivers to the live test server; forged,
stale and replayed events change nothing; older events never move a payment back."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.request
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from checkout.models import Order
from checkout.services import PaymentRequiresAction
from payments.models import Payment, StripeEvent
from tests.payments.conftest import STRIPE_KEY, WEBHOOK_SECRET
from tests.payments.test_stripe_payments import (
    authenticate_at_stripe,
    card_on_file,
    place,
    save_card,
)

WEBHOOK = "/stripe/webhook/"


def _configure_delivery(localstripe_url: str, url: str, events: list[str] | None) -> None:
    body = {"url": url, "secret": WEBHOOK_SECRET}
    if events is not None:
        body["events"] = events
    request = urllib.request.Request(
        f"{localstripe_url}/_config/webhooks/portal", data=json.dumps(body).encode(), method="POST"
    )
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {STRIPE_KEY}")
    urllib.request.urlopen(request, timeout=5).read()


@pytest.fixture
def stripe_delivers_events(live_server, localstripe_url):
    """localstripe signs its events with our secret and posts them to the live server,
    for this test only.

    Trap: localstripe and the live server both live for the whole run, so a delivery
    left on would post this test's kind of events into every later test that pays at
    localstripe (an extra StripeEvent row, an order completed behind the test's back).
    localstripe cannot forget a webhook; one that asks for no event types sends nothing.
    """
    _configure_delivery(localstripe_url, live_server.url + WEBHOOK, None)
    yield
    _configure_delivery(localstripe_url, live_server.url + WEBHOOK, [])


def wait_for(condition, seconds: float = 15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


@pytest.mark.django_db(transaction=True)
def test_localstripe_delivers_a_signed_event_that_is_stored_once(
    client, stripe_admin, stripe_delivers_events
):
    save_card(client, stripe_admin, "4242424242424242")
    order = place(stripe_admin)
    payment = Payment.objects.get(order=order)
    event = wait_for(
        lambda: StripeEvent.objects.filter(
            type="payment_intent.succeeded", payload__data__object__id=payment.reference
        ).first()
    )
    assert event.result == "payment succeeded"
    payment.refresh_from_db()
    assert payment.status == "succeeded" and payment.last_event_at is not None


@pytest.mark.django_db(transaction=True)
def test_an_authenticated_payment_the_admin_left_is_placed_by_the_webhook(
    client, stripe_admin, stripe_delivers_events
):
    card_on_file(stripe_admin, "4000002500003155")
    with pytest.raises(PaymentRequiresAction) as needs_action:
        place(stripe_admin)
    authenticate_at_stripe(needs_action.value.payment, success=True)
    # The admin closed the tab; Stripe's event completes the order.
    order = wait_for(lambda: Order.objects.first())
    assert Payment.objects.get().order == order
    assert order.amount_due == Payment.objects.get().amount


# -- Events we sign ourselves, exactly as Stripe does ------------------------------------


def signed(payload: dict, *, secret: str = WEBHOOK_SECRET, at: int | None = None):
    body = json.dumps(payload)
    timestamp = int(time.time()) if at is None else at
    signature = hmac.new(
        secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    return body, f"t={timestamp},v1={signature}"


def event(event_id: str, event_type: str, intent_id: str, created: int, **intent) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": created,
        "data": {"object": {"id": intent_id, "object": "payment_intent", **intent}},
    }


@pytest.fixture
def paid(client, stripe_admin):
    save_card(client, stripe_admin, "4242424242424242")
    return Payment.objects.get(order=place(stripe_admin))


def post(client, body: str, signature: str | None):
    headers = {"Stripe-Signature": signature} if signature else {}
    return client.post(WEBHOOK, body, content_type="application/json", headers=headers)


@pytest.mark.django_db
def test_bad_missing_or_stale_signatures_are_refused_and_nothing_is_stored(client, paid):
    now = int(time.time())
    payload = event("evt_forged", "payment_intent.payment_failed", paid.reference, now)
    body, good = signed(payload)
    _, wrong_secret = signed(payload, secret="whsec_someone_else")
    _, stale = signed(payload, at=now - 301)
    assert post(client, body, wrong_secret).status_code == 400
    assert post(client, body, None).status_code == 400
    assert post(client, body, stale).status_code == 400
    assert post(client, body.replace("payment_failed", "succeeded"), good).status_code == 400
    assert not StripeEvent.objects.exists()
    paid.refresh_from_db()
    assert paid.status == "succeeded"
    assert client.get(WEBHOOK).status_code == 405


@pytest.mark.django_db
def test_a_replayed_event_changes_nothing(client, paid):
    now = int(time.time())
    body, signature = signed(
        event(
            "evt_late_failure",
            "payment_intent.payment_failed",
            paid.reference,
            now,
            last_payment_error={"code": "card_declined", "decline_code": "insufficient_funds"},
        )
    )
    first = post(client, body, signature)
    assert (first.status_code, first.content) == (200, b"late failure recorded")
    order = Order.objects.get()
    assert "insufficient_funds" in order.payment_problem  # visible to staff
    Payment.objects.filter(pk=paid.pk).update(failure_reason="changed by hand")
    again = post(client, body, signature)
    assert (again.status_code, again.content) == (200, b"duplicate")
    assert StripeEvent.objects.count() == 1
    assert Payment.objects.get(pk=paid.pk).failure_reason == "changed by hand"


@pytest.mark.django_db
def test_an_older_event_never_moves_a_payment_backwards(client, paid):
    now = int(time.time())
    newer, older = now, now - 60
    body, signature = signed(event("evt_new", "payment_intent.succeeded", paid.reference, newer))
    assert post(client, body, signature).content == b"payment succeeded"
    body, signature = signed(
        event("evt_old", "payment_intent.payment_failed", paid.reference, older)
    )
    assert post(client, body, signature).content == b"stale event"
    paid.refresh_from_db()
    assert paid.status == "succeeded" and not Order.objects.get().payment_problem
    assert paid.last_event_at == datetime.fromtimestamp(newer, tz=UTC)


@pytest.mark.django_db
def test_unknown_payments_and_other_event_types_are_stored_and_ignored(client, stripe_settings):
    now = int(time.time())
    for payload in (
        event("evt_a", "payment_intent.succeeded", "pi_not_ours", now),
        event("evt_b", "customer.created", "cus_x", now),
    ):
        body, signature = signed(payload)
        assert post(client, body, signature).status_code == 200
    assert sorted(StripeEvent.objects.values_list("result", flat=True)) == [
        "ignored",
        "unknown payment",
    ]


@pytest.mark.django_db
def test_staff_see_a_late_failure_on_the_order(client, paid, admin_user):
    now = int(time.time())
    body, signature = signed(
        event(
            "evt_late",
            "payment_intent.payment_failed",
            paid.reference,
            now,
            last_payment_error={"code": "card_declined", "decline_code": "do_not_honor"},
        )
    )
    post(client, body, signature)
    client.force_login(admin_user)
    page = client.get(reverse("admin:checkout_order_changelist")).content.decode()
    assert "Payment failed after the order was placed: do_not_honor" in page
