"""The sandbox's 3-D Secure page and the card on file, through the pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from checkout.models import Order
from payments.models import Payment, PaymentMethod
from subscriptions.models import SeatChange
from tests.checkout.conftest import put_in_cart
from tests.pages import review_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, admin):
    client.force_login(admin)
    return client


def place_with(client, card_last4: str, account) -> object:
    PaymentMethod.objects.filter(account=account).update(last4=card_last4)
    token = review_token(client.get(reverse("checkout:review")).content.decode())
    return client.post(reverse("checkout:place"), {"review": token})


def test_a_card_that_asks_for_authentication_goes_to_the_bank_page_then_completes(
    frozen_now, signed_in, account, remote_support
):
    put_in_cart(remote_support, 7)
    response = place_with(signed_in, "3155", account)
    payment = Payment.objects.get()
    assert response["Location"] == reverse("checkout:authenticate", args=[payment.pk])
    assert payment.status == "requires_action" and not Order.objects.exists()
    page = signed_in.get(response["Location"]).content.decode()
    assert "€274.89" in page and "Confirm payment" in page
    done = signed_in.post(response["Location"], {"outcome": "authenticated"})
    order = Order.objects.get()
    assert done["Location"] == reverse("checkout:order", args=[order.number])
    payment.refresh_from_db()
    assert (payment.status, payment.order) == ("succeeded", order)
    remote_support.refresh_from_db()
    assert remote_support.seats == 7


def test_failing_authentication_places_nothing_and_keeps_the_cart(
    frozen_now, signed_in, account, remote_support
):
    put_in_cart(remote_support, 7)
    response = place_with(signed_in, "3155", account)
    result = signed_in.post(response["Location"], {"outcome": "failed"}, follow=True)
    assert "not authenticated" in result.content.decode()
    assert not Order.objects.exists() and not SeatChange.objects.exists()
    assert Payment.objects.get().status == "failed"
    assert account.cart.lines.count() == 1
    # That payment is over: its page sends the admin back to the checkout.
    assert signed_in.get(response["Location"])["Location"] == reverse("checkout:review")


def test_placing_again_while_authentication_is_pending_goes_back_to_it(
    frozen_now, signed_in, account, remote_support
):
    put_in_cart(remote_support, 7)
    first = place_with(signed_in, "3155", account)
    token = review_token(signed_in.get(reverse("checkout:review")).content.decode())
    again = signed_in.post(reverse("checkout:place"), {"review": token})
    assert again["Location"] == first["Location"]
    assert Payment.objects.count() == 1


def test_another_accounts_authentication_page_is_not_found(
    frozen_now, client, signed_in, account, remote_support
):
    from tests.factories import MembershipFactory

    put_in_cart(remote_support, 7)
    response = place_with(signed_in, "3155", account)
    client.force_login(MembershipFactory(account__name="Other GmbH").user)
    assert client.get(response["Location"]).status_code == 404
    assert client.post(response["Location"], {"outcome": "authenticated"}).status_code == 404
    assert not Order.objects.exists()


def test_the_card_on_file_is_shown_and_replaced(signed_in, account):
    page = signed_in.get(reverse("payments:payment_method")).content.decode()
    assert "Visa •••• 4242" in page.replace("</strong>", "").replace("<strong>", "")
    bad = signed_in.post(
        reverse("payments:payment_method"),
        {"card_number": "1234", "expiry": "01/20", "cvc": "x"},
    )
    assert bad.status_code == 400
    assert PaymentMethod.objects.filter(account=account).count() == 1
    signed_in.post(
        reverse("payments:payment_method"),
        {"card_number": "5555 5555 5555 4444", "expiry": "04/31", "cvc": "321"},
    )
    method = PaymentMethod.objects.get(account=account, is_default=True)
    assert (method.brand, method.last4, method.exp_month, method.exp_year) == (
        "Mastercard",
        "4444",
        4,
        2031,
    )
    assert "5555555555554444" not in str(PaymentMethod.objects.values_list())
