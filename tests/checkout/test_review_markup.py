"""What the Billing Center and the review page show, now that their markup is written by hand.

The card inputs and the review token are written in the template (not by
Django's form renderer) and the header's cart badge takes its number from the
lines the page read: these tests hold them to what the admin saw before.
"""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from payments.models import PaymentMethod
from tests.checkout.conftest import put_in_cart
from tests.factories import SeatAssignmentFactory, SubscriptionFactory
from tests.pages import review_token

# The shared period (Nov 1 – Dec 1 2026) is running only on the frozen clock.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


@pytest.fixture
def signed_in(client, admin):
    client.force_login(admin)
    return client


def tag(page: str, name: str) -> str:
    return re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)


@pytest.mark.parametrize(("language", "label"), [("en", "2 items"), ("de", "2 Positionen")])
def test_the_cart_badge_counts_the_cart_lines_on_every_page(
    signed_in, account, remote_support, language, label
):
    other = SubscriptionFactory(account=account, seats=3)
    SubscriptionFactory(account=account, seats=4)  # not in the cart
    put_in_cart(remote_support, 12)
    put_in_cart(other, 5)
    badge = f'<span class="badge" aria-label="{label}">2</span>'
    for page in ("billing_center:home", "checkout:review", "checkout:cart"):
        response = signed_in.get(reverse(page), headers={"accept-language": language})
        assert badge in response.content.decode(), page


def test_an_empty_cart_shows_no_badge(signed_in, remote_support):
    for page in ("billing_center:home", "checkout:review"):
        assert 'class="badge"' not in signed_in.get(reverse(page)).content.decode()


def test_review_carries_the_signed_review_and_the_card_inputs(signed_in, remote_support):
    put_in_cart(remote_support, 12)
    page = signed_in.get(reverse("checkout:review")).content.decode()
    assert re.search(r'<input type="hidden" name="review" value="[^"]+" id="id_review">', page)
    assert tag(page, "card_number") == (
        '<input type="text" name="card_number" inputmode="numeric" autocomplete="cc-number"'
        ' maxlength="30" required id="id_card_number">'
    )
    assert tag(page, "expiry") == (
        '<input type="text" name="expiry" autocomplete="cc-exp" placeholder="MM/YY"'
        ' maxlength="7" required id="id_expiry">'
    )
    assert tag(page, "cvc") == (
        '<input type="password" name="cvc" inputmode="numeric" autocomplete="cc-csc"'
        ' maxlength="4" required id="id_cvc">'
    )
    assert '<label for="id_card_number">Card number</label>' in page


@pytest.mark.parametrize(
    ("language", "expiry_error", "cvc_error", "expiry_label"),
    [
        ("en", "Enter the expiry date as MM/YY.", "Enter the 3 or 4 digit security code.",
         "Expiry (MM/YY)"),
        ("de", "Geben Sie das Ablaufdatum als MM/JJ ein.",
         "Geben Sie die 3- oder 4-stellige Prüfnummer ein.", "Gültig bis (MM/JJ)"),
    ],
)  # fmt: skip
def test_a_refused_card_comes_back_with_each_error_at_its_field_and_no_secret(
    signed_in, account, remote_support, language, expiry_error, cvc_error, expiry_label
):
    PaymentMethod.objects.filter(account=account).delete()
    put_in_cart(remote_support, 12)
    headers = {"accept-language": language}
    page = signed_in.get(reverse("checkout:review"), headers=headers).content.decode()
    token = re.search(r'name="review" value="([^"]+)"', page).group(1)
    card = {"card_number": "4242 4242 4242 4242", "expiry": "13/<b>", "cvc": "1"}
    response = signed_in.post(reverse("checkout:place"), {"review": token, **card}, headers=headers)
    assert response.status_code == 400
    page = response.content.decode()
    # The number was valid: no error, and it is not shown again (nor the CVC).
    assert tag(page, "card_number") == (
        '<input type="text" name="card_number" inputmode="numeric" autocomplete="cc-number"'
        ' maxlength="30" required id="id_card_number">'
    )
    assert "id_card_number_error" not in page
    # The expiry comes back as typed (escaped), marked invalid, its message next to it.
    assert tag(page, "expiry") == (
        '<input type="text" name="expiry" value="13/&lt;b&gt;" autocomplete="cc-exp"'
        f' placeholder="{"MM/JJ" if language == "de" else "MM/YY"}" maxlength="7" required'
        ' aria-invalid="true" aria-describedby="id_expiry_error" id="id_expiry">'
    )
    expiry_message = re.search(
        r'<p class="error" role="alert" id="id_expiry_error">([^<]*)</p>', page
    )
    assert html.unescape(expiry_message.group(1)) == expiry_error
    assert tag(page, "cvc") == (
        '<input type="password" name="cvc" inputmode="numeric" autocomplete="cc-csc"'
        ' maxlength="4" required aria-invalid="true" aria-describedby="id_cvc_error" id="id_cvc">'
    )
    cvc_message = re.search(r'<p class="error" role="alert" id="id_cvc_error">([^<]*)</p>', page)
    assert html.unescape(cvc_message.group(1)) == cvc_error
    assert f'<label for="id_expiry">{html.escape(expiry_label)}</label>' in page


def test_a_line_below_the_users_assigned_since_it_was_added_cannot_be_placed(
    signed_in, account, remote_support
):
    """Added at 4, then users were assigned: review counts them (3 + 2 more) and refuses."""
    put_in_cart(remote_support, 4)
    SeatAssignmentFactory(subscription=remote_support)
    SeatAssignmentFactory(subscription=remote_support)
    page = signed_in.get(reverse("checkout:review")).content.decode()
    assert "Your cart needs a change" in page
    assert "5 licenses are assigned to users. Unassign users first to go below 5." in html.unescape(
        page
    )
    assert 'name="review"' not in page and "Place order" not in page
    other = SubscriptionFactory(account=account, seats=3)
    SeatAssignmentFactory(subscription=other)
    put_in_cart(remote_support, 5)  # exactly the users assigned: allowed
    put_in_cart(other, 2)  # its one user counted, not the other subscription's five
    page = signed_in.get(reverse("checkout:review")).content.decode()
    assert "Your cart needs a change" not in page
    assert [shown for shown in re.findall(r'data-testid="licenses">([^<]*)<', page)] == [
        "10 → 5",
        "3 → 2",
    ]
    response = signed_in.post(reverse("checkout:place"), {"review": review_token(page)})
    assert response.status_code == 302
    remote_support.refresh_from_db()
    other.refresh_from_db()
    assert (remote_support.seats, other.seats) == (5, 2)
