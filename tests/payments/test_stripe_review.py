"""The review in Stripe mode (localstripe on loopback): no card field on the page, no card
data accepted by Place order; a new card arrives as a SetupIntent Stripe.js confirmed."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from checkout.models import Order
from payments.gateways import StripeGateway, to_minor_units
from payments.models import Payment, PaymentMethod
from tests.factories import MembershipFactory
from tests.payments.conftest import charges_for, stripe_card, stripe_card_on_file

pytestmark = pytest.mark.django_db

CARD_INPUTS = ('name="card_number"', 'name="expiry"', 'name="cvc"')


@pytest.fixture
def stripe_js(stripe_settings, localstripe_url):
    stripe_settings.STRIPE_JS_URL = f"{localstripe_url}/js.stripe.com/v3/"
    return stripe_settings.STRIPE_JS_URL


def account_of(admin):
    return admin.memberships.get().account


def review_page(client, admin) -> str:
    client.force_login(admin)
    response = client.get(reverse("checkout:review"))
    assert response.status_code == 200
    return response.content.decode()


def review_token(page: str) -> str:
    return re.search(r'name="review" value="([^"]+)"', page).group(1)


def place(client, token: str, **fields):
    return client.post(reverse("checkout:place"), {"review": token, **fields})


def visible_error(response) -> str:
    return re.search(r'data-testid="review-error">([^<]+)<', response.content.decode()).group(1)


@pytest.mark.parametrize("card_on_file", [False, True])
def test_the_review_takes_a_card_only_through_stripe_js(
    client, stripe_admin, stripe_js, card_on_file
):
    if card_on_file:
        stripe_card_on_file(account_of(stripe_admin), "4242424242424242")
    page = review_page(client, stripe_admin)
    assert not [field for field in CARD_INPUTS if field in page]
    assert 'id="card-element"' in page
    assert f'<script src="{stripe_js}"></script>' in page
    assert "/static/js/stripe_review.js" in page
    assert 'name="setup_intent"' in page
    if card_on_file:
        assert "Paid with Visa •••• 4242 (12/2030)." in page and "Use another card" in page
    else:
        assert "Payment details" in page


def test_the_sandbox_review_keeps_its_own_card_form(client, stripe_admin, settings):
    settings.PAYMENT_GATEWAY = "sandbox"
    page = review_page(client, stripe_admin)
    assert all(field in page for field in CARD_INPUTS)
    assert "stripe_review.js" not in page and 'id="card-element"' not in page


@pytest.mark.parametrize(
    "fields",
    [
        {"card_number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "073"},
        {"card_number": "", "expiry": "", "cvc": ""},
        {"cvc": "073"},
    ],
)
def test_card_fields_posted_in_stripe_mode_are_refused_and_change_nothing(
    client, stripe_admin, stripe_js, fields
):
    method = stripe_card_on_file(account_of(stripe_admin), "4242424242424242")
    token = review_token(review_page(client, stripe_admin))
    response = client.post(reverse("checkout:place"), {"review": token, **fields})
    assert response.status_code == 400
    assert visible_error(response) == (
        "Card details are taken only by our payment provider&#x27;s card form, not by this "
        "page. Nothing was ordered. Please enter your card again."
    )
    page = response.content.decode()
    assert "4242 4242" not in page and "073" not in page
    assert not [field for field in CARD_INPUTS if field in page]
    assert not Order.objects.exists() and not Payment.objects.exists()
    assert list(PaymentMethod.objects.all()) == [method]


def test_a_new_card_set_up_by_stripe_js_pays_the_order(
    client, stripe_admin, stripe_js, localstripe_url
):
    account = account_of(stripe_admin)
    token = review_token(review_page(client, stripe_admin))
    setup_intent = stripe_card(account, "4000056655665556")  # what Stripe.js does
    response = client.post(
        reverse("checkout:place"), {"review": token, "setup_intent": setup_intent}
    )
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.number}/"
    payment = Payment.objects.get()
    assert payment.order == order and payment.status == Payment.Status.SUCCEEDED
    charges = charges_for(localstripe_url, payment.reference)
    assert [(charge["status"], charge["amount"]) for charge in charges] == [
        ("succeeded", to_minor_units(order.amount_due))
    ]
    card = PaymentMethod.objects.get(account=account, is_default=True)
    assert (card.brand, card.last4, card.gateway) == ("Visa", "5556", "stripe")
    assert payment.payment_method == card and card.gateway_reference.startswith("pm_")
    page = client.get(reverse("payments:payment_method")).content.decode()
    assert "Visa •••• 5556" in page


@pytest.mark.parametrize("whose", ["another account", "forged", "not confirmed"])
def test_a_setup_intent_not_confirmed_for_this_account_is_refused(
    client, stripe_admin, stripe_js, whose
):
    account = account_of(stripe_admin)
    StripeGateway().ensure_customer(account=account)
    if whose == "another account":
        setup_intent = stripe_card(MembershipFactory().account, "4242424242424242")
    elif whose == "forged":
        setup_intent = "seti_forged"
    else:
        setup_intent, _ = StripeGateway().setup_intent_create(account=account)
    token = review_token(review_page(client, stripe_admin))
    response = client.post(
        reverse("checkout:place"), {"review": token, "setup_intent": setup_intent}
    )
    assert response.status_code == 400
    assert visible_error(response) == (
        "The new card could not be used. Nothing was ordered. Please enter it again."
    )
    assert not Order.objects.exists() and not Payment.objects.exists()
    assert not PaymentMethod.objects.filter(account=account).exists()


def test_a_setup_intent_is_made_for_the_page_on_demand(client, stripe_admin, stripe_js):
    client.force_login(stripe_admin)
    url = reverse("payments:stripe_setup_intent")
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    secret = response.json()["client_secret"]
    setup_intent = re.match(r"(seti_\w+)_secret_", secret).group(1)
    gateway = StripeGateway()
    intent = gateway.client.v1.setup_intents.retrieve(setup_intent)
    account = account_of(stripe_admin)
    account.refresh_from_db()
    assert intent.customer == account.stripe_customer_id != ""


def test_the_setup_intent_page_is_stripe_only(client, stripe_admin, settings):
    settings.PAYMENT_GATEWAY = "sandbox"
    client.force_login(stripe_admin)
    assert client.post(reverse("payments:stripe_setup_intent")).status_code == 404


def test_every_page_loads_stripe_js_from_the_setting(client, stripe_admin, stripe_js):
    stripe_card_on_file(account_of(stripe_admin), "4000002500003155")
    token = review_token(review_page(client, stripe_admin))
    placed = client.post(reverse("checkout:place"), {"review": token})
    assert placed.status_code == 302 and placed["Location"].endswith("/authenticate/")
    for url in (reverse("payments:payment_method"), placed["Location"]):
        page = client.get(url).content.decode()
        assert f'<script src="{stripe_js}"></script>' in page, url
        assert "https://js.stripe.com" not in page


def test_a_new_card_that_is_declined_is_not_kept_here_or_at_stripe(
    client, stripe_admin, stripe_js, django_capture_on_commit_callbacks
):
    account = account_of(stripe_admin)
    token = review_token(review_page(client, stripe_admin))
    setup_intent = stripe_card(account, "4000000000000341")  # sets up, declines when charged
    card = StripeGateway().client.v1.setup_intents.retrieve(setup_intent).payment_method
    with django_capture_on_commit_callbacks(execute=True):
        response = place(client, token, setup_intent=setup_intent)
    assert response.status_code == 402 and not Order.objects.exists()
    assert not PaymentMethod.objects.filter(gateway_reference=card).exists()
    detached = StripeGateway().client.v1.payment_methods.retrieve(card)
    assert detached.customer is None
