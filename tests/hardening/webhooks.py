"""Shared by the webhook attack tests: events signed exactly as Stripe signs them, delivery
with the server's clock set, the state an event could change, and the payments to attack."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail

from checkout.models import Order
from checkout.services import PaymentRequiresAction
from payments.models import Payment, StripeEvent
from subscriptions.models import CreditLedgerEntry, SeatChange, Subscription
from tests.payments import conftest as payments
from tests.payments.conftest import WEBHOOK_SECRET
from tests.payments.test_stripe_payments import (
    card_on_file,
    place,
    save_card,
)

WEBHOOK = "/stripe/webhook/"

# localstripe on loopback and a Stripe-configured billing admin (tests/payments/conftest.py).
# The fixtures below, and the test modules that use them, take these as fixtures too.
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
