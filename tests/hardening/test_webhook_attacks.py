"""Issue #6, item 8: webhooks under attack and out of order.

A forged, unsigned, stale or replayed event is refused (400) or changes nothing
(payments, orders, stored events, licenses); events that arrive out of order never
move a payment backwards, never unplace an order and never send a second email.
Stripe is localstripe on loopback; events are signed exactly as Stripe signs them.
tests/payments/test_stripe_webhooks.py has the basic cases; these go further.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from checkout.models import Order
from checkout.services import PaymentRequiresAction
from payments.models import Payment, StripeEvent
from subscriptions.models import CreditLedgerEntry, SeatChange, Subscription
from tests.payments import conftest as payments
from tests.payments.conftest import STRIPE_KEY, WEBHOOK_SECRET
from tests.payments.test_stripe_payments import (
    authenticate_at_stripe,
    card_on_file,
    place,
    save_card,
)

WEBHOOK = "/stripe/webhook/"

# localstripe on loopback and a Stripe-configured billing admin (tests/payments/conftest.py).
localstripe_url = payments.localstripe_url
stripe_settings = payments.stripe_settings
stripe_admin = payments.stripe_admin


def now() -> int:
    """A whole second not yet begun: the server's clock is set to it for each delivery,
    so the tolerance is tested to the second."""
    return int(time.time()) + 1


def sign(body: str, *, at: int, secret: str = WEBHOOK_SECRET, scheme: str = "v1") -> str:
    signature = hmac.new(secret.encode(), f"{at}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},{scheme}={signature}"


def event_body(event_id: str, event_type: str, payment: Payment, *, created: int, **intent):
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": created,
            "data": {"object": {"id": payment.reference, "object": "payment_intent", **intent}},
        }
    )


def deliver(client, body: str | bytes, signature: str | None, *, at: int):
    """POST to the webhook as Stripe would, with the server's clock at ``at``."""
    headers = {"Stripe-Signature": signature} if signature is not None else {}
    with time_machine.travel(datetime.fromtimestamp(at, tz=UTC), tick=False):
        return client.post(WEBHOOK, body, content_type="application/json", headers=headers)


def money_state() -> dict:
    """Everything an event could change, as the database holds it."""
    return {
        "payments": list(Payment.objects.order_by("pk").values()),
        "orders": list(Order.objects.order_by("pk").values()),
        "events": list(StripeEvent.objects.order_by("pk").values()),
        "seat changes": list(SeatChange.objects.order_by("pk").values()),
        "ledger": list(CreditLedgerEntry.objects.order_by("pk").values()),
        "subscriptions": list(
            Subscription.objects.order_by("pk").values("pk", "seats", "current_period_end")
        ),
    }


@pytest.fixture
def awaiting_authentication(stripe_admin) -> Payment:
    """A 3-D Secure payment the bank has not confirmed: a forged "succeeded" would place
    the order for free."""
    card_on_file(stripe_admin, "4000002500003155")
    with pytest.raises(PaymentRequiresAction) as needs_action:
        place(stripe_admin)
    return needs_action.value.payment


@pytest.fixture
def placed(client, stripe_admin, django_capture_on_commit_callbacks) -> Payment:
    """A paid, placed order whose confirmation email went out."""
    save_card(client, stripe_admin, "4242424242424242")
    with django_capture_on_commit_callbacks(execute=True):
        order = place(stripe_admin)
    assert len(mail.outbox) == 1
    return Payment.objects.get(order=order)


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


# -- Out of order ----------------------------------------------------------------------------


LATE_EVENTS = [
    ("payment_intent.processing", {"status": "processing"}),
    ("payment_intent.requires_action", {"status": "requires_action"}),
    ("payment_intent.created", {"status": "requires_confirmation"}),
    (
        "payment_intent.payment_failed",
        {
            "status": "requires_payment_method",
            "last_payment_error": {"code": "card_declined", "decline_code": "generic_decline"},
        },
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("late_by", [-60, 0, 1, 3600])
@pytest.mark.parametrize(("late_type", "intent"), LATE_EVENTS, ids=[t for t, _ in LATE_EVENTS])
def test_an_event_after_success_never_moves_the_payment_back(
    client, placed, late_type, intent, late_by, django_capture_on_commit_callbacks
):
    """Succeeded is final at Stripe: whatever arrives after it, and whatever second it
    carries, the payment stays succeeded, the order placed, and one email goes out."""
    at = now()
    with django_capture_on_commit_callbacks(execute=True):
        body = event_body("evt_succeeded", "payment_intent.succeeded", placed, created=at)
        assert deliver(client, body, sign(body, at=at), at=at).content == b"payment succeeded"
    before = money_state()
    late_at = at + late_by
    body = event_body("evt_late", late_type, placed, created=late_at, **intent)
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, body, sign(body, at=late_at), at=max(at, late_at))
    assert response.status_code == 200
    assert response.content in (b"stale event", b"ignored")
    after = money_state()
    assert after["payments"] == before["payments"]
    assert after["orders"] == before["orders"]
    assert after["seat changes"] == before["seat changes"]
    payment = Payment.objects.get()
    assert (payment.status, payment.failure_reason) == ("succeeded", "")
    order = Order.objects.get()
    assert payment.order == order and order.payment_problem == ""
    assert len(mail.outbox) == 1
    # The admin still sees the order placed.
    client.force_login(placed.created_by)
    page = client.get(reverse("checkout:order", args=[order.number])).content.decode()
    assert "Your order is placed" in page


@pytest.mark.django_db
@pytest.mark.parametrize("failure_first_by", [0, 1, 30])
def test_a_success_after_a_failure_event_is_not_lost(
    client, awaiting_authentication, failure_first_by, django_capture_on_commit_callbacks
):
    """The bank refused the first authentication, the admin tried again in Stripe's
    window and it went through: the success must win even when both events carry the
    same second, or the failure's is the newer one (delivery order is not guaranteed).
    Otherwise the customer is charged and gets no order."""
    payment = awaiting_authentication
    authenticate_at_stripe(payment, success=True)
    at = now()
    failed_at = at + failure_first_by
    failed = event_body(
        "evt_auth_failed",
        "payment_intent.payment_failed",
        payment,
        created=failed_at,
        last_payment_error={"code": "payment_intent_authentication_failure"},
    )
    succeeded = event_body("evt_auth_ok", "payment_intent.succeeded", payment, created=at)
    with django_capture_on_commit_callbacks(execute=True):
        first = deliver(client, failed, sign(failed, at=failed_at), at=failed_at)
        assert first.content == b"payment failed"
        second = deliver(client, succeeded, sign(succeeded, at=at), at=failed_at)
        assert second.content == b"payment succeeded"
    payment.refresh_from_db()
    order = Order.objects.get()
    assert (payment.status, payment.order, payment.failure_reason) == ("succeeded", order, "")
    assert payment.last_event_at == datetime.fromtimestamp(failed_at, tz=UTC)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_failure_reported_for_a_payment_we_were_told_succeeded_keeps_it_succeeded(
    client, placed, django_capture_on_commit_callbacks
):
    """No success event seen yet, our confirm said succeeded: staff see the disagreement
    on the order, the payment is not turned into a failure and nothing is sent again."""
    at = now()
    body = event_body(
        "evt_failed_later",
        "payment_intent.payment_failed",
        placed,
        created=at,
        last_payment_error={"code": "card_declined", "decline_code": "do_not_honor"},
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert deliver(client, body, sign(body, at=at), at=at).content == b"late failure recorded"
    assert callbacks == []  # no email queued
    placed.refresh_from_db()
    assert (placed.status, placed.failure_reason) == ("succeeded", "")
    order = Order.objects.get()
    assert order.payment_problem == "Payment failed after the order was placed: do_not_honor"
    assert placed.order == order


@pytest.mark.django_db
def test_the_admin_returning_while_the_success_event_is_handled_keeps_the_order_paid(
    client,
    awaiting_authentication,
    localstripe_url,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    """3-D Secure done: Stripe sends payment_intent.succeeded and Stripe.js brings the admin
    back at the same moment. Here the admin's return places the order between the event
    being stored and the webhook completing it (the real order of a real race)."""
    from checkout import receivers
    from checkout.payment_recovery import payment_authenticated
    from payments.gateways import StripeGateway
    from tests.payments.test_stripe_payments import refunds_for

    payment = awaiting_authentication
    authenticate_at_stripe(payment, success=True)
    complete_for_the_webhook = receivers.payment_complete

    def admin_returns_first(*, payment):
        fresh = Payment.objects.get(pk=payment.pk)
        payment_authenticated(payment=fresh, result=StripeGateway().retrieve(payment=fresh))
        return complete_for_the_webhook(payment=payment)

    monkeypatch.setattr(receivers, "payment_complete", admin_returns_first)
    at = now()
    body = event_body("evt_race", "payment_intent.succeeded", payment, created=at)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, body, sign(body, at=at), at=at).content == b"payment succeeded"
    payment.refresh_from_db()
    order = Order.objects.get()
    assert (payment.status, payment.order) == ("succeeded", order)
    assert refunds_for(localstripe_url, payment.reference) == []
    assert len(mail.outbox) == 1
