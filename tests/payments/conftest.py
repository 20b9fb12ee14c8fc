"""Real Stripe-compatible server (localstripe) and broken networks for the payment tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from checkout.cards import payment_method_store
from checkout.gateways import SavedCard, StripeGateway
from checkout.models import Cart, CartLine
from subscriptions.services import tax_rates_ensure_eu_standard
from tests.factories import MembershipFactory, SubscriptionFactory

STRIPE_KEY = "sk_test_portal_suite"
WEBHOOK_SECRET = "whsec_portal_suite"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe_url():
    """localstripe (PyPI) on a free loopback port, for the whole run."""
    port = free_port()
    command = [os.path.join(os.path.dirname(sys.executable), "localstripe")]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--from-scratch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/v1/customers", timeout=1)
            except urllib.error.HTTPError:  # 401 without a key: it is up
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("localstripe did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def stripe_settings(settings, localstripe_url):
    settings.STRIPE_SECRET_KEY = STRIPE_KEY
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_portal_suite"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = localstripe_url
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_TIMEOUT_SECONDS = 2
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return settings


@pytest.fixture
def stripe_admin(db, stripe_settings):
    """A German self-service account's billing admin, 10 licenses at €42, 10 days into its month."""
    tax_rates_ensure_eu_standard()  # a transactional test starts from empty tables
    membership = MembershipFactory(account__name="Stripe Kunde GmbH", account__country="DE")
    started = timezone.now() - timedelta(days=10)
    subscription = SubscriptionFactory(account=membership.account, seats=10, billing_anchor=started)
    cart = Cart.objects.create(account=membership.account)
    CartLine.objects.create(cart=cart, subscription=subscription, new_seats=7)
    return membership.user


def stripe_card(account, number: str) -> str:
    """What Stripe.js does in the browser: a card confirmed on a SetupIntent. Returns its id."""
    gateway = StripeGateway()
    setup_intent_id, _ = gateway.setup_intent_create(account=account)
    method = gateway.client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    gateway.client.v1.setup_intents.confirm(setup_intent_id, params={"payment_method": method.id})
    return setup_intent_id


def stripe_card_on_file(account, number: str):
    """A card saved earlier (e.g. a 3-D Secure card authenticated when it was set up),
    attached to the account's Stripe customer and kept as its card on file."""
    gateway = StripeGateway()
    customer = gateway.ensure_customer(account=account)
    method = gateway.client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    gateway.client.v1.payment_methods.attach(method.id, params={"customer": customer})
    saved = SavedCard(
        reference=method.id, brand="Visa", last4=number[-4:], exp_month=12, exp_year=2030
    )
    return payment_method_store(account=account, saved=saved, gateway_name="stripe")


def localstripe_get(url: str, path: str) -> dict:
    import json

    request = urllib.request.Request(f"{url}{path}")
    request.add_header("Authorization", f"Bearer {STRIPE_KEY}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def charges_for(url: str, payment_intent: str) -> list[dict]:
    """Every charge localstripe holds for one payment intent (the money that moved)."""
    charges = localstripe_get(url, "/v1/charges?limit=100")["data"]
    return [charge for charge in charges if charge.get("payment_intent") == payment_intent]


@pytest.fixture
def silent_server():
    """A port that accepts connections and never answers: Stripe timing out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []
    stop = threading.Event()

    def hold():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
                held.append(connection)
            except OSError:
                continue

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    for connection in held:
        connection.close()
    listener.close()


@pytest.fixture
def response_losing_proxy(localstripe_url):
    """Forwards to localstripe, but for `.../confirm` it lets Stripe act and loses the answer.

    The worst case for a double charge: the money moved, the portal never heard.
    """
    lost = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            request = urllib.request.Request(
                localstripe_url + self.path, data=body, method=self.command
            )
            for name in ("Authorization", "Content-Type", "Idempotency-Key", "Stripe-Version"):
                if self.headers.get(name):
                    request.add_header(name, self.headers[name])
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    status, payload = response.status, response.read()
            except urllib.error.HTTPError as error:
                status, payload = error.code, error.read()
            if self.path.split("?")[0].endswith("/confirm"):
                lost.append(self.path)
                time.sleep(4)  # longer than the client's timeout: the answer is lost
                return
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _forward

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", lost
    server.shutdown()
    server.server_close()
