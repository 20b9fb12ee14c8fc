"""Issue #13, section 2, item 4: a correctly signed but malformed webhook event.

The signature proves who sent the body, not that the body is an event. Whatever its
shape, a signed body that is not a Stripe event answers 400 and stores nothing; a 500
would make Stripe retry it for days and hide the real errors in the log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from payments.models import Payment, StripeEvent

WEBHOOK = "/stripe/webhook/"
SECRET = "whsec_malformed_suite"


def signed(body: str) -> str:
    at = int(time.time())
    signature = hmac.new(SECRET.encode(), f"{at}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={signature}"


def event(**changes) -> dict:
    """A well-formed event; each case below breaks one part of it."""
    body = {
        "id": "evt_malformed",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "data": {"object": {"id": "pi_unknown", "object": "payment_intent"}},
    }
    body.update(changes)
    return body


def without(key: str) -> dict:
    body = event()
    del body[key]
    return body


MALFORMED = {
    "an empty list": [],
    "an empty object": {},
    "a string": "evt_1",
    "a number": 1,
    "null": None,
    "no id": without("id"),
    "an empty id": event(id=""),
    "a numeric id": event(id=5),
    "an id longer than any Stripe id": event(id="evt_" + "x" * 300),
    "no type": without("type"),
    "a type that is a list": event(type=["payment_intent.succeeded"]),
    "no created": without("created"),
    "created as text": event(created="yesterday"),
    "created as a digit string": event(created=str(int(time.time()))),
    "created as true": event(created=True),
    "created as a fraction": event(created=1764158400.5),
    "created beyond any calendar": event(created=10**20),
    "created null": event(created=None),
    "no data": without("data"),
    "data a list": event(data=[{"object": {"id": "pi_unknown"}}]),
    "data a string": event(data="payment_intent"),
    "data without object": event(data={}),
    "data.object a list": event(data={"object": [{"id": "pi_unknown"}]}),
    "data.object a string": event(data={"object": "pi_unknown"}),
    "data.object null": event(data={"object": None}),
    "a NUL character in the payload": event(
        data={"object": {"id": "pi_unknown", "description": "a\u0000b"}}
    ),
    "a NUL character in the id": event(id="evt_\u0000"),
}


@pytest.fixture
def webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    return SECRET


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_signed_malformed_event_answers_400_and_stores_nothing(client, webhook_secret, case):
    body = json.dumps(MALFORMED[case])
    response = client.post(
        WEBHOOK, body, content_type="application/json", headers={"Stripe-Signature": signed(body)}
    )
    assert (response.status_code, response.content) == (400, b"Malformed event."), case
    assert not StripeEvent.objects.exists()
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_a_lone_surrogate_in_a_signed_event_answers_400(client, webhook_secret):
    """JSON may escape half a UTF-16 pair; PostgreSQL cannot store it."""
    body = json.dumps(event()).replace('"pi_unknown"', '"pi_\\ud800"')
    response = client.post(
        WEBHOOK, body, content_type="application/json", headers={"Stripe-Signature": signed(body)}
    )
    assert (response.status_code, response.content) == (400, b"Malformed event.")
    assert not StripeEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_signed_event_with_a_number_json_does_not_know_answers_400(
    client, webhook_secret, constant
):
    """Python's json reads NaN and Infinity; PostgreSQL's jsonb refuses to store them."""
    body = json.dumps(event(data={"object": {"id": "pi_unknown", "amount": 0}}))
    body = body.replace('"amount": 0', f'"amount": {constant}')
    response = client.post(
        WEBHOOK, body, content_type="application/json", headers={"Stripe-Signature": signed(body)}
    )
    assert (response.status_code, response.content) == (400, b"Malformed event.")
    assert not StripeEvent.objects.exists()


@pytest.mark.django_db
def test_a_well_formed_event_next_to_them_is_stored_once(client, webhook_secret):
    """The same builder, unbroken, is accepted: the 400s above come from the shape alone."""
    body = json.dumps(event(type="customer.created", data={"object": {"id": "cus_1"}}))
    response = client.post(
        WEBHOOK, body, content_type="application/json", headers={"Stripe-Signature": signed(body)}
    )
    assert (response.status_code, response.content) == (200, b"ignored")
    stored = StripeEvent.objects.get()
    assert (stored.event_id, stored.type) == ("evt_malformed", "customer.created")
    assert stored.payload["data"] == {"object": {"id": "cus_1"}}
