"""The bank is asked only for a review that still holds; a typed card that ends without
an order is not kept.

Sandbox cards: the last four 3155 asks for 3-D Secure, 4242 pays.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from checkout.models import Order
from payments.models import Payment, PaymentMethod
from subscriptions.models import Subscription
from tests.pages import review_token
from tests.shared_fixtures import put_in_cart

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]

ASKS_THE_BANK = {"card_number": "4000 0025 0000 3155", "expiry": "12/35", "cvc": "073"}
PAYS = {"card_number": "4242 4242 4242 4242", "expiry": "12/35", "cvc": "073"}


@pytest.fixture
def signed_in(client, admin):
    client.force_login(admin)
    return client


def review(client) -> str:
    return review_token(client.get(reverse("checkout:review")).content.decode())


def place(client, token: str, **card) -> object:
    return client.post(reverse("checkout:place"), {"review": token, **card})


def waiting_for_the_bank(client, remote_support, **card):
    """Licenses 10 → 12 reviewed and placed; the bank asks to authenticate."""
    put_in_cart(remote_support, 12)
    token = review(client)
    response = place(client, token, **card)
    payment = Payment.objects.get()
    assert response["Location"] == reverse("checkout:authenticate", args=[payment.pk])
    return token, payment


def support_changes_the_licenses(subscription) -> None:
    """Someone else changes the subscription while the admin is at the bank's page."""
    Subscription.objects.filter(pk=subscription.pk).update(seats=11)


@pytest.mark.parametrize("step", ["open the bank page", "confirm at the bank", "place again"])
def test_a_changed_review_never_reaches_the_bank(signed_in, account, remote_support, step):
    PaymentMethod.objects.filter(account=account).update(last4="3155")
    token, payment = waiting_for_the_bank(signed_in, remote_support)
    support_changes_the_licenses(remote_support)
    bank_page = reverse("checkout:authenticate", args=[payment.pk])

    if step == "open the bank page":
        response = signed_in.get(bank_page, follow=True)
        assert "your bank was not asked and nothing was charged" in response.content.decode()
    elif step == "confirm at the bank":
        response = signed_in.post(bank_page, {"outcome": "authenticated"}, follow=True)
        assert "your bank was not asked and nothing was charged" in response.content.decode()
    else:
        response = place(signed_in, token)
        assert response.status_code == 409
        assert "Something changed since your review" in response.content.decode()

    payment.refresh_from_db()
    # Canceled before the bank took anything: never paid, so never refunded.
    assert payment.status == Payment.Status.CANCELED
    assert not Order.objects.exists()
    assert signed_in.get(bank_page)["Location"] == reverse("checkout:review")


def test_an_unchanged_review_still_goes_to_the_bank(signed_in, account, remote_support):
    PaymentMethod.objects.filter(account=account).update(last4="3155")
    token, payment = waiting_for_the_bank(signed_in, remote_support)
    again = place(signed_in, token)
    assert again["Location"] == reverse("checkout:authenticate", args=[payment.pk])
    page = signed_in.get(again["Location"]).content.decode()
    assert "Confirm payment" in page
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REQUIRES_ACTION


def typed_cards(account) -> list[str]:
    return sorted(
        PaymentMethod.objects.filter(account=account, is_default=False).values_list(
            "last4", flat=True
        )
    )


def test_a_typed_card_whose_authentication_is_canceled_is_not_kept(
    signed_in, account, remote_support
):
    _, payment = waiting_for_the_bank(signed_in, remote_support, **ASKS_THE_BANK)
    assert typed_cards(account) == ["3155"]  # kept while the bank's step is open
    bank_page = reverse("checkout:authenticate", args=[payment.pk])
    signed_in.post(bank_page, {"outcome": "failed"})
    assert typed_cards(account) == []
    assert PaymentMethod.objects.get(account=account).last4 == "4242"  # the card on file


def test_a_typed_card_of_a_review_that_changed_is_not_kept(signed_in, account, remote_support):
    _, payment = waiting_for_the_bank(signed_in, remote_support, **ASKS_THE_BANK)
    support_changes_the_licenses(remote_support)
    signed_in.get(reverse("checkout:authenticate", args=[payment.pk]))
    assert typed_cards(account) == []


def test_a_typed_card_given_up_for_another_card_is_not_kept(signed_in, account, remote_support):
    token, _ = waiting_for_the_bank(signed_in, remote_support, **ASKS_THE_BANK)
    response = place(signed_in, token, **PAYS)
    order = Order.objects.get()
    assert response["Location"] == reverse("checkout:order", args=[order.number])
    # The one given up is gone; the card on file and the one that paid remain.
    cards = PaymentMethod.objects.filter(account=account).values_list("last4", flat=True)
    assert sorted(cards) == ["4242", "4242"]


def test_a_former_card_on_file_is_kept_when_its_payment_places_nothing(
    signed_in, account, remote_support
):
    """The bank asks about the card on file; meanwhile the admin saves a new card on the
    card page; then the bank's step fails. The former card stays (its history too)."""
    PaymentMethod.objects.filter(account=account).update(last4="3155")
    _, payment = waiting_for_the_bank(signed_in, remote_support)
    saved = signed_in.post(reverse("payments:payment_method"), PAYS)
    assert saved.status_code == 302
    signed_in.post(reverse("checkout:authenticate", args=[payment.pk]), {"outcome": "failed"})
    cards = PaymentMethod.objects.filter(account=account)
    assert sorted(cards.values_list("last4", "is_default")) == [("3155", False), ("4242", True)]
    payment.refresh_from_db()
    assert payment.payment_method.last4 == "3155"
