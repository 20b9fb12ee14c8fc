"""Stripe webhooks: verified, stored once by event id, handled idempotently."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.models import Payment, StripeEvent
from payments.signals import payment_taken

logger = logging.getLogger(__name__)

# Stripe's own default: an event signed more than five minutes ago is refused.
SIGNATURE_TOLERANCE_SECONDS = 300

EVENT_ID_MAX_LENGTH = StripeEvent._meta.get_field("event_id").max_length
EVENT_TYPE_MAX_LENGTH = StripeEvent._meta.get_field("type").max_length


@csrf_exempt  # Stripe cannot send our CSRF token; the signature proves the sender instead.
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        return HttpResponse("Webhooks are not configured.", status=400)
    try:
        body = request.body.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            body,
            request.headers.get("Stripe-Signature", ""),
            secret,
            tolerance=SIGNATURE_TOLERANCE_SECONDS,
        )
    except (UnicodeDecodeError, stripe.SignatureVerificationError):
        return HttpResponse("Invalid signature.", status=400)
    event = stripe_event_parse(body=body)
    if event is None:
        return HttpResponse("Malformed event.", status=400)
    result = stripe_event_handle(**event)
    return HttpResponse(result, status=200)


def stripe_event_parse(*, body: str) -> dict | None:
    """The fields of a signed event, or None when it is not shaped as Stripe's events are.

    A valid signature proves who sent the body, not that it is an event: anything that
    is not an object with a text id and type, a whole-second ``created`` and an object
    in ``data.object`` is refused before anything is stored."""
    try:
        payload = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict) or not _storable(payload):
        return None
    event_id, event_type, created = payload.get("id"), payload.get("type"), payload.get("created")
    data = payload.get("data")
    if not (isinstance(event_id, str) and 0 < len(event_id) <= EVENT_ID_MAX_LENGTH):
        return None
    if not (isinstance(event_type, str) and 0 < len(event_type) <= EVENT_TYPE_MAX_LENGTH):
        return None
    # bool is an int in Python; a float or a digit string is not a Stripe timestamp.
    if type(created) is not int:
        return None
    try:
        created_at = datetime.fromtimestamp(created, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        return None
    return {
        "event_id": event_id,
        "event_type": event_type,
        "created": created_at,
        "payload": payload,
    }


def _refuse_constant(name: str):
    """NaN and Infinity are not JSON, and jsonb refuses them."""
    raise ValueError(f"{name} is not JSON")


def _storable(value) -> bool:
    """PostgreSQL's text and jsonb refuse NUL characters and lone surrogates: such a
    payload would fail at the database, after the answer could still be a clean 400."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


def stripe_event_handle(*, event_id: str, event_type: str, created: datetime, payload: dict) -> str:
    """Apply one event once. A replayed event id changes nothing."""
    completion = None
    try:
        with transaction.atomic():
            event = StripeEvent.objects.create(
                event_id=event_id, type=event_type, created=created, payload=payload
            )
            intent = payload.get("data", {}).get("object", {})
            if event_type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
                event.result, completion = _payment_intent_event(event_type, intent, created)
            else:
                event.result = "ignored"
            event.save(update_fields=["result"])
    except IntegrityError:
        return "duplicate"
    if completion is not None:
        # The admin authenticated but left before the order was written: write it now.
        for _receiver, outcome in payment_taken.send_robust(sender=Payment, payment=completion):
            if isinstance(outcome, Exception):  # the event is stored; the sweep retries
                logger.error(
                    "Payment %s: completing after its webhook failed",
                    completion.pk,
                    exc_info=outcome,
                )
    return event.result


def _payment_intent_event(event_type: str, intent: dict, created: datetime):
    payment = (
        Payment.objects.select_for_update(of=("self",))
        .select_related("order")
        .filter(reference=intent.get("id", ""))
        .first()
    )
    if payment is None:
        return "unknown payment", None
    if event_type == "payment_intent.succeeded":
        return _payment_intent_succeeded(payment, created)
    return _payment_intent_failed(payment, intent, created)


def _payment_intent_succeeded(payment: Payment, created: datetime):
    """Stripe never moves a PaymentIntent on from succeeded, so this event is the truth
    whenever it arrives: even after a failure event of the same second (events carry
    whole seconds) or a newer one delivered first."""
    fields = ["updated_at"]
    if payment.last_event_at is None or created > payment.last_event_at:
        payment.last_event_at = created
        fields.append("last_event_at")
    completion = None
    # A renewal payment waiting for its customer's authentication belongs to no run.
    waited_for_customer = payment.status == Payment.Status.REQUIRES_ACTION
    if payment.status in (
        Payment.Status.PROCESSING,
        Payment.Status.REQUIRES_ACTION,
        Payment.Status.FAILED,
        Payment.Status.CANCELED,
    ):
        # Money was taken (even for an attempt we had given up): record the truth.
        # Completing places the order if its review still holds, else refunds.
        payment.status = Payment.Status.SUCCEEDED
        payment.failure_reason = ""
        fields += ["status", "failure_reason"]
        # A checkout's payment completes its order here, and so does a renewal's the
        # customer authenticated; any other renewal payment belongs to the renewal run,
        # which records it (and retries with the same key) itself.
        is_checkout = not payment.is_renewal
        completes = is_checkout or waited_for_customer
        completion = payment if payment.order_id is None and completes else None
    payment.save(update_fields=fields)
    return "payment succeeded", completion


def _payment_intent_failed(payment: Payment, intent: dict, created: datetime):
    if payment.last_event_at and created <= payment.last_event_at:
        return "stale event", None  # out of order: an older event never moves it backwards
    succeeded_seen = StripeEvent.objects.filter(
        type="payment_intent.succeeded", payload__data__object__id=payment.reference
    ).exists()
    if succeeded_seen:
        # Succeeded is final at Stripe: this failure is an earlier attempt's, delivered late.
        return "stale event", None
    payment.last_event_at = created
    fields = ["last_event_at", "updated_at"]
    error = intent.get("last_payment_error") or {}
    reason = str(error.get("decline_code") or error.get("code") or "payment_failed")
    if payment.status == Payment.Status.SUCCEEDED:
        # We were told it succeeded and the money is recorded as taken: the payment
        # keeps that status; a placed order shows the disagreement for staff to follow up.
        result = "stale event"
        if payment.order_id:
            payment.order.payment_problem = f"Payment failed after the order was placed: {reason}"
            payment.order.save(update_fields=["payment_problem"])
            result = "late failure recorded"
    else:
        result = "payment failed"
        if payment.status != Payment.Status.REFUNDED:
            payment.status = Payment.Status.FAILED
            payment.failure_reason = reason
            fields += ["status", "failure_reason"]
    payment.save(update_fields=fields)
    return result, None
