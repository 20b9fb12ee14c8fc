"""Issue #6, item 8: webhook events that arrive out of order never move a payment backwards,
never unplace an order and never send a second email.
Stripe is localstripe on loopback; events are signed exactly as Stripe signs them
(tests/hardening/webhooks.py); test_webhook_attacks.py has forged, stale and replayed events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core import mail
from django.urls import reverse

from checkout.models import Order
from payments.models import Payment
from tests.hardening import webhooks
from tests.hardening.webhooks import deliver, event_body, money_state, now, sign
from tests.payments.test_stripe_payments import (
    authenticate_at_stripe,
)

# Fixtures: localstripe on loopback, a Stripe-configured billing admin, and the payments
# to attack (tests/hardening/webhooks.py).
localstripe_url = webhooks.localstripe_url
stripe_settings = webhooks.stripe_settings
stripe_admin = webhooks.stripe_admin
awaiting_authentication = webhooks.awaiting_authentication
placed = webhooks.placed


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

    def admin_returns_first(*, payment, gateway=None):
        fresh = Payment.objects.get(pk=payment.pk)
        payment_authenticated(payment=fresh, result=StripeGateway().retrieve(payment=fresh))
        return complete_for_the_webhook(payment=payment, gateway=gateway)

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
