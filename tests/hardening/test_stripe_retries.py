"""Issue #6, item 9: Stripe answering 429 or 500, or not answering at all.

A small proxy on loopback stands between the portal and localstripe. It answers the
first requests to a PaymentIntent endpoint with a 429 (Stripe's error body, with or
without ``Stripe-Should-Retry``), a 500, or silence past the client's timeout (before
or after letting Stripe act), records each request's ``Idempotency-Key``, then
forwards. The portal must retry with backoff and the same key, and never charge twice
for one order, also when the retries run out and the admin tries again.

localstripe ignores ``Idempotency-Key`` (the first test shows it): what stops a second
charge here is the portal's own record of each attempt.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe
from django.urls import reverse

from checkout.models import Cart, Order
from payments.models import Payment
from subscriptions.models import SeatChange
from tests.payments import conftest as payments
from tests.payments.conftest import STRIPE_KEY, charges_for
from tests.payments.test_stripe_payments import save_card

pytestmark = pytest.mark.django_db

# localstripe on loopback and a Stripe-configured billing admin (tests/payments/conftest.py).
localstripe_url = payments.localstripe_url
stripe_settings = payments.stripe_settings
stripe_admin = payments.stripe_admin

CREATE = r"/v1/payment_intents"
CONFIRM = r"/v1/payment_intents/[^/]+/confirm"
CLIENT_TIMEOUT = 1.0
RETRIES = 2
TRY_AGAIN = "The payment service did not answer. Nothing was ordered and nothing was charged twice"

STRIPE_ERRORS = {
    # A plain rate limit: Stripe sends no Stripe-Should-Retry; back off and try again.
    "429": (429, "invalid_request_error", "rate_limit", None),
    # Another request holds the object's lock: Stripe says to retry.
    "429 lock timeout": (429, "invalid_request_error", "lock_timeout", "true"),
    # Stripe says a retry would not help.
    "429 do not retry": (429, "invalid_request_error", "rate_limit", "false"),
    "500": (500, "api_error", None, None),
}


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    idempotency_key: str | None
    fault: str  # "forwarded", or what the proxy did instead
    at: float


class FlakyStripe:
    """Forwards to localstripe, except for the faults it is told to inject."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests: list[Seen] = []
        self._rules: list[tuple[str, re.Pattern, deque]] = []
        self._lock = threading.Lock()
        self.stop = threading.Event()
        self.url = ""

    def fail(self, method: str, path: str, *faults: str) -> None:
        """The next requests matching ``method path`` get ``faults``, in order."""
        with self._lock:
            self._rules.append((method, re.compile(path + r"\Z"), deque(faults)))

    def _fault_for(self, method: str, path: str) -> str:
        with self._lock:
            for rule_method, pattern, faults in self._rules:
                if rule_method == method and pattern.match(path) and faults:
                    return faults.popleft()
        return "forwarded"

    def seen(self, method: str, path: str) -> list[Seen]:
        pattern = re.compile(path + r"\Z")
        with self._lock:
            return [r for r in self.requests if r.method == method and pattern.match(r.path)]

    def handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _forward(self, body: bytes | None) -> tuple[int, bytes]:
                request = urllib.request.Request(
                    proxy.upstream + self.path, data=body, method=self.command
                )
                for name in ("Authorization", "Content-Type", "Idempotency-Key", "Stripe-Version"):
                    if self.headers.get(name):
                        request.add_header(name, self.headers[name])
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        return response.status, response.read()
                except urllib.error.HTTPError as error:
                    return error.code, error.read()

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                path = self.path.split("?")[0]
                fault = proxy._fault_for(self.command, path)
                with proxy._lock:
                    proxy.requests.append(
                        Seen(
                            self.command,
                            path,
                            self.headers.get("Idempotency-Key"),
                            fault,
                            time.monotonic(),
                        )
                    )
                if fault in STRIPE_ERRORS:
                    status, kind, code, should_retry = STRIPE_ERRORS[fault]
                    error = {"type": kind, "message": f"Injected {fault} by the test proxy."}
                    if code:
                        error["code"] = code
                    headers = {"Request-Id": "req_injected"}
                    if should_retry is not None:
                        headers["Stripe-Should-Retry"] = should_retry
                    self._answer(status, json.dumps({"error": error}).encode(), headers)
                    return
                if fault == "lost":
                    self._forward(body)  # Stripe acts; its answer never comes back
                if fault in ("hang", "lost"):
                    proxy.stop.wait(CLIENT_TIMEOUT + 1)
                    self.close_connection = True
                    return
                status, payload = self._forward(body)
                self._answer(status, payload, {})

            do_GET = do_POST = do_DELETE = _handle

        return Handler


@pytest.fixture
def flaky_stripe(localstripe_url, stripe_settings):
    """The portal talks to Stripe through the proxy, retrying as configured in production
    (2 retries) with a short timeout so a silent Stripe costs seconds, not minutes."""
    proxy = FlakyStripe(localstripe_url)
    server = ThreadingHTTPServer(("127.0.0.1", 0), proxy.handler())
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    stripe_settings.STRIPE_API_BASE = proxy.url
    stripe_settings.STRIPE_MAX_NETWORK_RETRIES = RETRIES
    stripe_settings.STRIPE_TIMEOUT_SECONDS = CLIENT_TIMEOUT
    yield proxy
    proxy.stop.set()
    server.shutdown()
    server.server_close()


def stripe_direct(localstripe_url: str) -> stripe.StripeClient:
    """The Stripe API itself, not through the proxy: what really happened."""
    return stripe.StripeClient(STRIPE_KEY, base_addresses={"api": localstripe_url})


def intents_of(localstripe_url: str, checkout_token: str) -> list:
    intents = stripe_direct(localstripe_url).v1.payment_intents.list(params={"limit": 100})
    return [
        i for i in intents.data if i.to_dict()["metadata"].get("checkout_token") == checkout_token
    ]


def place_through_the_page(client):
    """The admin presses Place order on the review page they see now."""
    page = client.get(reverse("checkout:review")).content.decode()
    token = re.search(r'name="review" value="([^"]+)"', page).group(1)
    return client.post(reverse("checkout:place"), {"review": token}, follow=True)


def assert_placed_once(client, response, localstripe_url) -> Payment:
    """The admin sees the order; one payment, one PaymentIntent, one charge."""
    assert response.status_code == 200
    assert "Your order is placed" in response.content.decode()
    order = Order.objects.get()
    payment = Payment.objects.get()
    assert (payment.status, payment.order) == ("succeeded", order)
    intents = intents_of(localstripe_url, payment.checkout_token)
    assert [(i.id, i.status) for i in intents] == [(payment.reference, "succeeded")]
    assert len(charges_for(localstripe_url, payment.reference)) == 1
    assert intents[0].amount == int(order.amount_due.amount * 100)
    return payment


def assert_same_key_with_backoff(seen: list[Seen], key: str) -> None:
    assert [request.idempotency_key for request in seen] == [key] * len(seen)
    for earlier, later in itertools.pairwise(seen):
        # The library and the portal wait at least half a second between tries.
        assert later.at - earlier.at >= 0.45, "retried without backing off"


def test_localstripe_ignores_idempotency_keys_so_the_guard_is_ours(localstripe_url):
    """The same key twice makes two PaymentIntents at localstripe (Stripe would replay
    the first): nothing in these tests is protected by the stand-in's idempotency."""
    client = stripe_direct(localstripe_url)
    params = {"amount": 1000, "currency": "eur", "metadata": {"checkout_token": "same-key"}}
    options = {"idempotency_key": "hardening-same-key"}
    first = client.v1.payment_intents.create(params=params, options=options)
    second = client.v1.payment_intents.create(params=params, options=options)
    assert first.id != second.id


@pytest.mark.parametrize("fault", ["429", "429 lock timeout", "500", "hang"])
def test_a_failing_create_is_retried_with_the_same_key_and_charges_once(
    client, stripe_admin, flaky_stripe, localstripe_url, fault
):
    save_card(client, stripe_admin, "4242424242424242")
    flaky_stripe.fail("POST", CREATE, fault, fault)
    response = place_through_the_page(client)
    payment = assert_placed_once(client, response, localstripe_url)
    creates = flaky_stripe.seen("POST", CREATE)
    assert [r.fault for r in creates] == [fault, fault, "forwarded"]
    assert_same_key_with_backoff(creates, f"{payment.idempotency_key}:create")


@pytest.mark.parametrize("fault", ["429", "429 lock timeout", "500", "hang", "lost"])
def test_a_failing_confirm_is_retried_with_the_same_key_and_charges_once(
    client, stripe_admin, flaky_stripe, localstripe_url, fault
):
    """ "lost": Stripe took the money and its answer never came; the retry with the same
    key (refused by localstripe: already confirmed) makes the portal ask, not charge."""
    save_card(client, stripe_admin, "4242424242424242")
    flaky_stripe.fail("POST", CONFIRM, fault, fault)
    response = place_through_the_page(client)
    payment = assert_placed_once(client, response, localstripe_url)
    confirms = flaky_stripe.seen("POST", CONFIRM)
    assert [r.fault for r in confirms] == [fault, fault, "forwarded"]
    assert_same_key_with_backoff(confirms, f"{payment.idempotency_key}:confirm")


def test_a_lost_create_answer_leaves_an_unconfirmed_intent_and_one_charge(
    client, stripe_admin, flaky_stripe, localstripe_url
):
    """Stripe made the PaymentIntent, the answer was lost, the retry carries the same key.
    Stripe would answer with the first intent; localstripe makes a second one. Either
    way only the intent the portal recorded is confirmed: one charge."""
    save_card(client, stripe_admin, "4242424242424242")
    flaky_stripe.fail("POST", CREATE, "lost")
    response = place_through_the_page(client)
    assert "Your order is placed" in response.content.decode()
    payment = Payment.objects.get()
    creates = flaky_stripe.seen("POST", CREATE)
    assert_same_key_with_backoff(creates, f"{payment.idempotency_key}:create")
    intents = {i.id: i.status for i in intents_of(localstripe_url, payment.checkout_token)}
    assert intents.pop(payment.reference) == "succeeded"
    assert list(intents.values()) == ["requires_confirmation"]  # localstripe's extra one
    charged = [
        charge
        for intent in [payment.reference, *intents]
        for charge in charges_for(localstripe_url, intent)
    ]
    assert len(charged) == 1


@pytest.mark.parametrize(
    ("path", "fault"),
    [
        (CREATE, "429"),
        (CREATE, "500"),
        (CREATE, "hang"),
        (CONFIRM, "429"),
        (CONFIRM, "500"),
        (CONFIRM, "hang"),
        (CONFIRM, "lost"),
    ],
    ids=lambda value: {CREATE: "create", CONFIRM: "confirm"}.get(value, value),
)
def test_when_retries_run_out_the_admin_is_told_to_try_again_and_is_charged_once(
    client, stripe_admin, flaky_stripe, localstripe_url, path, fault
):
    save_card(client, stripe_admin, "4242424242424242")
    flaky_stripe.fail("POST", path, *[fault] * (RETRIES + 1))
    cart_token = Cart.objects.get().checkout_token

    failed = place_through_the_page(client)
    assert failed.status_code == 503
    assert TRY_AGAIN in failed.content.decode()
    assert not Order.objects.exists() and not SeatChange.objects.exists()
    assert Cart.objects.get().lines.count() == 1  # the cart is kept
    assert Cart.objects.get().checkout_token == cart_token
    attempt = Payment.objects.get()
    assert attempt.status == "processing"
    first_try = flaky_stripe.seen("POST", path)
    assert len(first_try) == RETRIES + 1
    suffix = ":create" if path == CREATE else ":confirm"
    assert_same_key_with_backoff(first_try, f"{attempt.idempotency_key}{suffix}")

    # Stripe is back; the admin presses Place order again.
    response = place_through_the_page(client)
    payment = assert_placed_once(client, response, localstripe_url)
    assert payment.pk == attempt.pk  # the same attempt, finished: not a second payment
    later = flaky_stripe.seen("POST", path)[len(first_try) :]
    assert {r.idempotency_key for r in later} <= {f"{attempt.idempotency_key}{suffix}"}
    if fault == "lost":
        # The money had moved on the first try: the portal asked Stripe instead of
        # confirming again.
        assert later == []
        assert flaky_stripe.seen("GET", rf"/v1/payment_intents/{payment.reference}")


def test_stripe_saying_a_retry_would_not_help_is_not_retried(
    client, stripe_admin, flaky_stripe, localstripe_url
):
    save_card(client, stripe_admin, "4242424242424242")
    flaky_stripe.fail("POST", CONFIRM, "429 do not retry")
    failed = place_through_the_page(client)
    assert failed.status_code == 503 and TRY_AGAIN in failed.content.decode()
    assert len(flaky_stripe.seen("POST", CONFIRM)) == 1
    assert_placed_once(client, place_through_the_page(client), localstripe_url)
