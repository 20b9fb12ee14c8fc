"""Place order through Stripe (localstripe on loopback): success, decline, 3-D Secure,
timeouts and lost answers, and the card on file. Nothing here is mocked."""

from __future__ import annotations

import urllib.parse
import urllib.request

import pytest
from django.urls import reverse
from moneyed import Money

from checkout.models import Cart, Order
from checkout.selectors import cart_review
from checkout.services import (
    PaymentFailed,
    PaymentRequiresAction,
    PaymentUnavailable,
    order_place,
)
from payments.gateways import to_minor_units
from payments.models import Payment, PaymentMethod
from subscriptions import clock
from subscriptions.models import SeatChange
from tests.payments.conftest import (
    STRIPE_KEY,
    charges_for,
    localstripe_get,
    stripe_card,
    stripe_card_on_file,
)

pytestmark = pytest.mark.django_db


def save_card(client, admin, number: str) -> PaymentMethod:
    """The browser confirms a SetupIntent (Stripe.js); our server keeps the card."""
    account = admin.memberships.get().account
    setup_intent = stripe_card(account, number)
    client.force_login(admin)
    response = client.post(reverse("payments:stripe_card_saved"), {"setup_intent": setup_intent})
    assert response.status_code == 302
    return PaymentMethod.objects.get(account=account, is_default=True)


def card_on_file(admin, number: str) -> PaymentMethod:
    return stripe_card_on_file(admin.memberships.get().account, number)


def place(admin):
    account = admin.memberships.get().account
    at = clock.now()
    review = cart_review(account=account, at=at)
    return order_place(
        account=account,
        placed_by=admin,
        checkout_token=Cart.objects.get(account=account).checkout_token,
        quoted_at=at,
        fingerprint=review.quote.fingerprint(),
        amount_due=review.quote.amount_due,
    )


def test_a_card_is_saved_through_a_setup_intent_on_one_customer(client, stripe_admin):
    method = save_card(client, stripe_admin, "4242424242424242")
    account = stripe_admin.memberships.get().account
    account.refresh_from_db()
    assert account.stripe_customer_id.startswith("cus_")
    assert (method.gateway, method.brand, method.last4, method.exp_year) == (
        "stripe",
        "Visa",
        "4242",
        2030,
    )
    assert method.gateway_reference.startswith("pm_")
    second = save_card(client, stripe_admin, "5555555555554444")
    account.refresh_from_db()
    assert account.payment_methods.get(is_default=True) == second
    assert second.last4 == "4444"
    customers = localstripe_get(client_base(), "/v1/customers?limit=100")["data"]
    assert [c["id"] for c in customers if c["metadata"].get("account_id") == str(account.pk)] == [
        account.stripe_customer_id
    ]


def client_base() -> str:
    from django.conf import settings

    return settings.STRIPE_API_BASE


def test_the_card_page_names_the_publishable_key_and_a_setup_intent(client, stripe_admin):
    client.force_login(stripe_admin)
    page = client.get(reverse("payments:payment_method")).content.decode()
    assert 'data-publishable-key="pk_test_portal_suite"' in page
    assert 'name="setup_intent" value="seti_' in page
    assert 'name="card_number"' not in page  # card numbers never reach our server


def test_a_forged_setup_intent_is_refused(client, stripe_admin):
    client.force_login(stripe_admin)
    response = client.post(reverse("payments:stripe_card_saved"), {"setup_intent": "seti_forged"})
    assert response.status_code == 302
    assert not PaymentMethod.objects.exists()


def test_a_successful_payment_charges_the_reviewed_amount_once(client, stripe_admin):
    save_card(client, stripe_admin, "4242424242424242")
    order = place(stripe_admin)
    payment = Payment.objects.get(order=order)
    assert payment.status == "succeeded" and payment.reference.startswith("pi_")
    intent = localstripe_get(client_base(), f"/v1/payment_intents/{payment.reference}")
    assert (intent["status"], intent["amount"], intent["currency"]) == (
        "succeeded",
        to_minor_units(order.amount_due),
        "eur",
    )
    assert intent["metadata"]["checkout_token"] == order.idempotency_key
    assert len(charges_for(client_base(), payment.reference)) == 1


def test_a_declined_card_places_nothing_and_says_why(client, stripe_admin):
    save_card(client, stripe_admin, "4000000000000341")  # saves fine, every charge declined
    with pytest.raises(PaymentFailed) as failed:
        place(stripe_admin)
    assert failed.value.reason == "card_declined"
    assert not Order.objects.exists() and not SeatChange.objects.exists()
    assert Payment.objects.get().status == "failed"
    assert Cart.objects.get().lines.count() == 1


def test_authentication_then_the_order_completes(client, stripe_admin):
    card_on_file(stripe_admin, "4000002500003155")
    client.force_login(stripe_admin)
    with pytest.raises(PaymentRequiresAction) as needs_action:
        place(stripe_admin)
    payment = needs_action.value.payment
    assert payment.status == "requires_action" and payment.client_secret
    assert not Order.objects.exists()
    # What Stripe.js and the bank do in the browser:
    authenticate_at_stripe(payment, success=True)
    response = client.post(reverse("checkout:authenticate", args=[payment.pk]))
    order = Order.objects.get()
    assert response["Location"] == reverse("checkout:order", args=[order.number])
    assert Payment.objects.get(pk=payment.pk).order == order
    assert len(charges_for(client_base(), payment.reference)) == 1


def test_failed_or_abandoned_authentication_changes_nothing(client, stripe_admin):
    card_on_file(stripe_admin, "4000002500003155")
    client.force_login(stripe_admin)
    with pytest.raises(PaymentRequiresAction) as needs_action:
        place(stripe_admin)
    payment = needs_action.value.payment
    # Abandoned: the admin never comes back. Nothing is placed.
    assert not Order.objects.exists() and not SeatChange.objects.exists()
    authenticate_at_stripe(payment, success=False)
    response = client.post(reverse("checkout:authenticate", args=[payment.pk]), follow=True)
    assert "not authenticated" in response.content.decode()
    assert not Order.objects.exists()
    assert Payment.objects.get(pk=payment.pk).status == "failed"


def authenticate_at_stripe(payment: Payment, *, success: bool) -> None:
    query = urllib.parse.urlencode(
        {"client_secret": payment.client_secret, "success": "true" if success else "false"}
    )
    request = urllib.request.Request(
        f"{client_base()}/v1/payment_intents/{payment.reference}/_authenticate?{query}",
        method="POST",
        data=b"",
    )
    request.add_header("Authorization", f"Bearer {STRIPE_KEY}")
    urllib.request.urlopen(request, timeout=5).read()


def test_stripe_not_answering_changes_nothing_and_a_retry_charges_once(
    client, stripe_admin, silent_server, settings, localstripe_url
):
    save_card(client, stripe_admin, "4242424242424242")
    settings.STRIPE_API_BASE = silent_server
    settings.STRIPE_TIMEOUT_SECONDS = 0.5
    with pytest.raises(PaymentUnavailable):
        place(stripe_admin)
    assert not Order.objects.exists() and not SeatChange.objects.exists()
    attempt = Payment.objects.get()
    assert (attempt.status, attempt.claimed_until) == ("processing", None)
    settings.STRIPE_API_BASE = localstripe_url
    order = place(stripe_admin)
    assert Payment.objects.get(order=order).pk == attempt.pk  # the same attempt, finished
    assert len(charges_for(localstripe_url, Payment.objects.get().reference)) == 1


def pay_and_lose_the_answer(client, admin, proxy, settings) -> Payment:
    """Place order through a proxy that lets Stripe take the money and loses its answer."""
    save_card(client, admin, "4242424242424242")
    proxy_url, lost = proxy
    settings.STRIPE_API_BASE = proxy_url
    settings.STRIPE_TIMEOUT_SECONDS = 1
    with pytest.raises(PaymentUnavailable):
        place(admin)
    assert lost, "the confirm call went through the proxy"
    return Payment.objects.get()


def test_a_lost_answer_after_the_money_moved_is_found_not_charged_again(
    client, stripe_admin, response_losing_proxy, settings, localstripe_url
):
    attempt = pay_and_lose_the_answer(client, stripe_admin, response_losing_proxy, settings)
    intent = localstripe_get(localstripe_url, f"/v1/payment_intents/{attempt.reference}")
    assert intent["status"] == "succeeded"  # Stripe took the money; we did not hear it
    assert not Order.objects.exists()
    # The admin presses Place order again: the portal asks Stripe and finishes the order.
    settings.STRIPE_API_BASE = localstripe_url
    order = place(stripe_admin)
    assert order.amount_due == Money(intent["amount"], "EUR") / 100
    assert len(charges_for(localstripe_url, attempt.reference)) == 1
    assert Payment.objects.count() == 1


def test_a_double_submit_through_the_page_is_one_stripe_charge(client, stripe_admin):
    save_card(client, stripe_admin, "4242424242424242")
    client.force_login(stripe_admin)
    page = client.get(reverse("checkout:review")).content.decode()
    import re

    token = re.search(r'name="review" value="([^"]+)"', page).group(1)
    first = client.post(reverse("checkout:place"), {"review": token})
    second = client.post(reverse("checkout:place"), {"review": token})
    assert first["Location"] == second["Location"]
    payment = Payment.objects.get()
    assert len(charges_for(client_base(), payment.reference)) == 1


def test_minor_units_at_the_boundary():
    assert to_minor_units(Money("274.89", "EUR")) == 27489
    assert to_minor_units(Money("9301", "JPY")) == 9301
    with pytest.raises(ValueError):
        to_minor_units(Money("0.001", "EUR"))


def refunds_for(url: str, payment_intent: str) -> list[dict]:
    refunds = localstripe_get(url, "/v1/refunds?limit=100")["data"]
    return [r for r in refunds if r.get("payment_intent") == payment_intent]


def test_a_lost_answer_then_a_changed_review_refunds_the_first_payment(
    client, stripe_admin, response_losing_proxy, settings, localstripe_url
):
    """The money moved, the answer was lost, then the quote changed: paid once in the end."""
    from subscriptions.models import CreditLedgerEntry

    first = pay_and_lose_the_answer(client, stripe_admin, response_losing_proxy, settings)
    settings.STRIPE_API_BASE = localstripe_url
    account = stripe_admin.memberships.get().account
    CreditLedgerEntry.objects.create(account=account, amount=Money("5", "EUR"), reason="goodwill")
    from checkout.services import ReviewOutdated

    with pytest.raises(ReviewOutdated):
        place(stripe_admin)  # resumes the first attempt: its review no longer holds
    first.refresh_from_db()
    assert first.status == "refunded"
    assert len(refunds_for(localstripe_url, first.reference)) == 1
    order = place(stripe_admin)  # the admin places the new review
    second = Payment.objects.get(order=order)
    assert second.pk != first.pk and second.status == "succeeded"
    assert len(charges_for(localstripe_url, second.reference)) == 1


def test_pressing_confirmed_before_the_bank_finishes_keeps_waiting(client, stripe_admin):
    card_on_file(stripe_admin, "4000002500003155")
    client.force_login(stripe_admin)
    with pytest.raises(PaymentRequiresAction) as needs_action:
        place(stripe_admin)
    payment = needs_action.value.payment
    early = client.post(reverse("checkout:authenticate", args=[payment.pk]))
    assert early["Location"] == reverse("checkout:authenticate", args=[payment.pk])
    payment.refresh_from_db()
    assert payment.status == "requires_action"  # not failed: the bank may still say yes
    authenticate_at_stripe(payment, success=True)
    done = client.post(reverse("checkout:authenticate", args=[payment.pk]))
    order = Order.objects.get()
    assert done["Location"] == reverse("checkout:order", args=[order.number])
    assert len(charges_for(client_base(), payment.reference)) == 1


def test_the_reconciliation_sweep_closes_what_was_left_open(
    client, stripe_admin, response_losing_proxy, settings, localstripe_url, time_machine
):
    """A lost answer and an admin who never came back: the sweep places the order."""
    from payments.reconcile import payments_reconcile

    pay_and_lose_the_answer(client, stripe_admin, response_losing_proxy, settings)
    settings.STRIPE_API_BASE = localstripe_url
    time_machine.move_to(clock.now() + __import__("datetime").timedelta(minutes=11))
    assert payments_reconcile()["placed"] == 1
    payment = Payment.objects.get()
    assert payment.order is not None and payment.status == "succeeded"
    assert len(charges_for(localstripe_url, payment.reference)) == 1
    assert payments_reconcile() == {
        "placed": 0,
        "refunded": 0,
        "canceled": 0,
        "failed": 0,
        "left": 0,
    }
