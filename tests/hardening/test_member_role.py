"""Issue #6, item 5: a member without the billing-admin role changes no seats and sees
no payment details.

Agent Smith belongs to Acme as a plain member (he even holds one of its
licenses). Every page of the portal (read from the URL conf, with the real ids
of Acme's things) answers him with the "Ask your billing admin" page, in
English and in German, whatever he sends: edit, add to cart, − and +, Place
order with a review his admin was shown, removing a cart line, the payment
method page and its card form, Stripe's card-saved endpoint, the bank's
authentication page. Nothing is written and no card or amount is shown.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from payments.models import PaymentMethod
from tests.factories import MembershipFactory, SeatAssignmentFactory
from tests.hardening.routes import Route
from tests.hardening.test_csrf import PORTAL, every_row_count
from tests.hardening.test_other_accounts import acme_history, ids_of, snapshot  # noqa: F401

pytestmark = pytest.mark.django_db

ASK = {
    "en": (
        "Ask your billing admin",
        "Only an account's billing admins can see and change its subscriptions, licenses "
        "and payment details.",
    ),
    "de": ("Fragen Sie Ihren Abrechnungsadministrator",),
}

# What a page about Acme's billing would show: card, prices, amounts, products.
SECRETS_OF_BILLING = ("4242", "3155", "Visa", "42.00", "274.89", "Remote Support v5", "seti_")

MEMBER_VIEWS = [r for r in PORTAL if r.name != "payments:stripe_webhook"]


@pytest.fixture
def history(request):
    return request.getfixturevalue("acme_history")  # tests/hardening/test_other_accounts.py


@pytest.fixture
def member(client, account, history):
    membership = MembershipFactory(
        account=account, role="member", user__email="agent.smith@acme.example"
    )
    SeatAssignmentFactory(subscription=history["subscriptions"][0], user=membership.user)
    client.force_login(membership.user)
    return client


def admins_review_token(client, admin) -> str:
    """The signed review Acme's billing admin was shown (as if the member got hold of it)."""
    client.force_login(admin)
    page = client.get(reverse("checkout:review")).content.decode()
    client.logout()
    return re.search(r'name="review" value="([^"]+)"', page).group(1)


def url_of(route: Route, history: dict) -> str:
    ids = ids_of(history)
    return route.url(ids[route.name][0] if route.name in ids else {})


FORM = {
    "seats": "25",
    "add": "1",
    "vat_number": "DE136695976",
    "card_number": "5555 5555 5555 4444",
    "expiry": "04/31",
    "cvc": "321",
    "outcome": "authenticated",
    "setup_intent": "seti_123",
}


def assert_told_to_ask(response, language: str = "en") -> None:
    assert response.status_code == 403, response.status_code
    page = response.content.decode()
    for words in ASK[language]:
        assert words in page
    for secret in SECRETS_OF_BILLING:
        assert secret not in page, secret


def test_every_portal_page_is_covered():
    names = {route.name for route in MEMBER_VIEWS}
    assert {
        "billing_center:home",
        "billing_center:edit",
        "billing_center:preview",
        "checkout:cart_line_remove",
        "checkout:place",
        "payments:payment_method",
        "payments:stripe_card_saved",
        "checkout:authenticate",
        "checkout:order",
    } <= names


@pytest.mark.parametrize("route", MEMBER_VIEWS, ids=lambda route: route.name)
def test_a_member_is_told_to_ask_the_billing_admin_and_nothing_is_written(
    account, history, member, route
):
    url = url_of(route, history)
    before, counts = snapshot(account), every_row_count()
    assert_told_to_ask(member.get(url))
    assert_told_to_ask(member.post(url, FORM))
    assert_told_to_ask(member.post(url, {**FORM, "adjust": "+1"}))
    assert_told_to_ask(member.get(url, headers={"accept-language": "de"}), "de")
    assert snapshot(account) == before
    assert every_row_count() == counts


def test_a_member_cannot_place_the_order_his_admin_reviewed(
    client, admin, account, history, member
):
    token = admins_review_token(client, admin)
    client.force_login(account.memberships.get(role="member").user)
    before, counts = snapshot(account), every_row_count()
    assert_told_to_ask(client.post(reverse("checkout:place"), {"review": token}))
    assert snapshot(account) == before and every_row_count() == counts
    # The control: the same review placed by the admin is taken (the order waits for the bank).
    client.force_login(admin)
    placed = client.post(reverse("checkout:place"), {"review": token})
    assert placed.status_code == 302


def test_with_stripe_a_member_never_reaches_the_gateway(settings, account, history, member):
    """No SetupIntent (and no client secret) is made for a member: he is refused first."""
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_member_suite"
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens: a call would show
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    methods = list(PaymentMethod.objects.filter(account=account).values_list())
    assert_told_to_ask(member.get(reverse("payments:payment_method")))
    assert_told_to_ask(
        member.post(reverse("payments:stripe_card_saved"), {"setup_intent": "seti_123"})
    )
    assert list(PaymentMethod.objects.filter(account=account).values_list()) == methods
    account.refresh_from_db()
    assert not account.stripe_customer_id


def test_a_member_of_acme_who_administers_another_account_does_not_reach_acmes_things(
    client, account, history
):
    """His billing-admin role elsewhere gives him nothing at Acme: Acme's ids are not found."""
    membership = MembershipFactory(account__name="Beta AG")
    MembershipFactory(account=account, user=membership.user, role="member")
    client.force_login(membership.user)
    before = snapshot(account)
    for name, all_kwargs in ids_of(history).items():
        for kwargs in all_kwargs:
            url = reverse(name, kwargs=kwargs)
            assert client.get(url).status_code == 404, url
            assert client.post(url, FORM).status_code == 404, url
    home = client.get(reverse("billing_center:home")).content.decode()
    assert "Beta AG" in home and "4242" not in home
    assert snapshot(account) == before
