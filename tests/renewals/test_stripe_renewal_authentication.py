"""A renewal whose bank asks for 3-D Secure, through Stripe (localstripe on loopback):
the off-session charge waits for the customer, who completes it on the renewal payment
page (localstripe's bank step, as its Stripe.js runs it); recorded once."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from checkout.models import Order
from payments.models import Payment
from payments.webhooks import stripe_event_handle
from renewals.run import subscriptions_renew
from subscriptions import clock
from subscriptions.models import Subscription
from tests.factories import MembershipFactory, PaymentMethodFactory
from tests.payments import test_stripe_webhooks as webhooks
from tests.payments.conftest import charges_for, localstripe_get, stripe_card_on_file
from tests.payments.test_stripe_payments import authenticate_at_stripe
from tests.payments.test_stripe_webhooks import wait_for
from tests.renewals.test_stripe_renewal import due_subscription, stripe_customer  # noqa: F401

THREE_D_SECURE = "4000002500003155"
stripe_delivers_events = webhooks.stripe_delivers_events  # the fixture, for this module


def renew_with_3ds_card(account):
    """The renewal run meets a card on file whose bank asks for 3-D Secure."""
    method = stripe_card_on_file(account, THREE_D_SECURE)
    subscription = due_subscription(account)
    summary = subscriptions_renew(at=clock.now())
    assert (summary.renewed, summary.past_due) == (0, 1)
    return subscription, method, Payment.objects.get()


@pytest.fixture
def billing_admin(client, stripe_customer):  # noqa: F811
    client.force_login(stripe_customer.memberships.get().user)
    return client


def page_url(payment: Payment) -> str:
    return reverse("renewals:renewal_payment", args=[payment.pk])


@pytest.mark.django_db
def test_the_admin_authenticates_and_the_page_records_the_renewal_once(
    stripe_customer,  # noqa: F811
    billing_admin,
    localstripe_url,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        subscription, method, payment = renew_with_3ds_card(stripe_customer)
    ended = subscription.current_period_end

    # Off session, the bank's step waits for the customer: no charge, past due.
    assert (payment.status, payment.gateway) == ("requires_action", "stripe")
    intent = localstripe_get(localstripe_url, f"/v1/payment_intents/{payment.reference}")
    assert (intent["status"], intent["amount"]) == ("requires_action", 49980)
    assert payment.client_secret == intent["client_secret"]
    assert charges_for(localstripe_url, payment.reference) == []
    assert not Order.objects.exists()
    subscription.refresh_from_db()
    assert (subscription.status, subscription.current_period_end) == ("past_due", ended)
    [request] = mailoutbox
    assert page_url(payment) in request.body

    # The page hands Stripe.js the PaymentIntent's secret and the card on file; no card form.
    html = billing_admin.get(page_url(payment)).content.decode()
    assert f'data-client-secret="{payment.client_secret}"' in html
    assert f'data-payment-method="{method.gateway_reference}"' in html
    assert "€499.80" in html and 'name="card_number"' not in html

    # Before the bank's step is done, the page's post changes nothing.
    waiting = billing_admin.post(page_url(payment), follow=True)
    assert "Your bank has not confirmed the payment yet." in waiting.content.decode()
    assert not Order.objects.exists()

    authenticate_at_stripe(payment, success=True)  # what localstripe's Stripe.js does
    with django_capture_on_commit_callbacks(execute=True):
        done = billing_admin.post(page_url(payment))
    order = Order.objects.get()
    assert done["Location"] == reverse("checkout:order", args=[order.number])
    assert (order.kind, order.effective_at) == ("renewal", ended)
    charges = charges_for(localstripe_url, payment.reference)
    assert [(charge["amount"], charge["status"]) for charge in charges] == [(49980, "succeeded")]
    subscription.refresh_from_db()
    assert (subscription.status, subscription.current_period_start) == ("active", ended)
    assert subscription.past_due_since is None
    assert mailoutbox[-1].subject == f"Your subscription is renewed: receipt {order.number}"

    # Posted again, Stripe's event for it, the next run: still one order, one charge.
    assert billing_admin.post(page_url(payment))["Location"] == done["Location"]
    result = stripe_event_handle(
        event_id="evt_renewal_paid",
        event_type="payment_intent.succeeded",
        created=clock.now(),
        payload={"data": {"object": {"id": payment.reference}}},
    )
    assert result == "payment succeeded"
    assert subscriptions_renew(at=clock.now() + timedelta(days=1)).renewed == 0
    assert (Order.objects.count(), Payment.objects.count()) == (1, 1)
    assert len(charges_for(localstripe_url, payment.reference)) == 1


@pytest.mark.django_db
def test_a_failed_authentication_leaves_the_subscription_past_due(
    stripe_customer,  # noqa: F811
    billing_admin,
    localstripe_url,
):
    subscription, _, payment = renew_with_3ds_card(stripe_customer)
    authenticate_at_stripe(payment, success=False)

    answer = billing_admin.post(page_url(payment), follow=True)

    assert "The payment was not authenticated, so nothing was charged." in (answer.content.decode())
    payment.refresh_from_db()
    assert (payment.status, payment.failure_reason) == ("failed", "authentication_failed")
    assert not Order.objects.exists()
    assert charges_for(localstripe_url, payment.reference) == []
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PAST_DUE
    assert subscription.next_renewal_attempt_at == subscription.past_due_since + timedelta(days=1)


@pytest.mark.django_db(transaction=True)
def test_stripes_event_records_the_renewal_when_the_admin_left_the_page(
    client,
    stripe_customer,  # noqa: F811
    localstripe_url,
    stripe_delivers_events,
):
    subscription, _, payment = renew_with_3ds_card(stripe_customer)

    authenticate_at_stripe(payment, success=True)  # and the tab is closed

    order = wait_for(lambda: Order.objects.first())
    payment.refresh_from_db()
    assert (payment.status, payment.order) == ("succeeded", order)
    subscription.refresh_from_db()
    assert (subscription.status, subscription.current_period_start) == (
        "active",
        order.effective_at,
    )
    # The page, opened later from the email, shows the renewal's order.
    client.force_login(stripe_customer.memberships.get().user)
    answer = client.post(page_url(payment))
    assert answer["Location"] == reverse("checkout:order", args=[order.number])
    assert Order.objects.count() == 1
    assert len(charges_for(localstripe_url, payment.reference)) == 1


@pytest.fixture
def stripe_declining_for_authentication(stripe_settings):
    """A stand-in for Stripe's API answering as Stripe does (localstripe does not) when an
    off-session charge needs the customer: a 402 ``authentication_required`` card error
    naming the PaymentIntent, which then waits in ``requires_payment_method`` until the
    customer confirms it with the card on file. ``state["status"]`` moves it on."""
    state = {"status": "requires_payment_method", "created": 0}
    intent = {
        "id": "pi_needs_customer",
        "object": "payment_intent",
        "amount": 49980,
        "currency": "eur",
        "client_secret": "pi_needs_customer_secret_abc",
        "payment_method": "pm_on_file",
    }
    error = {"code": "authentication_required", "type": "card_error", "message": "needs you"}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.split("?")[0] != "/v1/payment_intents":
                return self.answer(404, {"error": {"type": "invalid_request_error"}})
            state["created"] += 1
            waiting = {**intent, "status": "requires_payment_method", "last_payment_error": error}
            return self.answer(402, {"error": {**error, "payment_intent": waiting}})

        def do_GET(self):
            if self.path.split("?")[0] != f"/v1/payment_intents/{intent['id']}":
                return self.answer(404, {"error": {"type": "invalid_request_error"}})
            now = {**intent, "status": state["status"]}
            if state["status"] == "requires_payment_method":
                now["last_payment_error"] = error
            return self.answer(200, now)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stripe_settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_stripes_authentication_required_decline_waits_for_the_customer(
    stripe_declining_for_authentication, client
):
    state = stripe_declining_for_authentication
    membership = MembershipFactory(account__name="Stripe Kunde GmbH", account__country="DE")
    account = membership.account
    account.stripe_customer_id = "cus_known"
    account.save()
    PaymentMethodFactory(
        account=account, gateway="stripe", gateway_reference="pm_on_file", last4="3155"
    )
    subscription = due_subscription(account)

    summary = subscriptions_renew(at=clock.now())

    assert (summary.past_due, summary.unavailable, state["created"]) == (1, 0, 1)
    payment = Payment.objects.get()
    assert (payment.status, payment.reference, payment.client_secret) == (
        "requires_action",
        "pi_needs_customer",
        "pi_needs_customer_secret_abc",
    )
    subscription.refresh_from_db()
    assert subscription.status == "past_due"

    # Stripe.js confirms it with the card on file (the page hands it the card's id).
    client.force_login(membership.user)
    html = client.get(page_url(payment)).content.decode()
    assert 'data-payment-method="pm_on_file"' in html
    # Not confirmed yet: Stripe still has it waiting for the customer, nothing changes.
    waiting = client.post(page_url(payment), follow=True).content.decode()
    assert "Your bank has not confirmed the payment yet." in waiting
    assert Payment.objects.get().status == "requires_action"
    # A dunning retry asks how it stands and charges nothing new.
    retry = clock.now() + timedelta(days=1, hours=1)
    assert subscriptions_renew(at=retry).past_due == 1
    assert (state["created"], Payment.objects.count()) == (1, 1)

    state["status"] = "succeeded"
    done = client.post(page_url(payment))
    order = Order.objects.get()
    assert done["Location"] == reverse("checkout:order", args=[order.number])
    subscription.refresh_from_db()
    assert subscription.status == "active"
