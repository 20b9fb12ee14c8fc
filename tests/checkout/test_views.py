"""The checkout pages through Django's test client: what the billing admin sees and can do."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.urls import reverse
from moneyed import Money

from checkout.models import CartLine, Order
from payments.models import PaymentMethod
from tests.checkout.conftest import put_in_cart
from tests.checkout.helpers import edit_url
from tests.factories import (
    MembershipFactory,
    SubscriptionFactory,
)
from tests.pages import review_token, shown

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, admin):
    client.force_login(admin)
    return client


# -- Edit subscription → cart ---------------------------------------------------------


def test_edit_page_shows_the_field_counts_and_buttons(signed_in, remote_support):
    page = signed_in.get(edit_url(remote_support)).content.decode()
    assert 'for="id_seats">Number of licenses</label>' in page
    assert 'name="adjust" value="-1"' in page and 'name="adjust" value="+1"' in page
    assert "3 licenses are assigned to users" in page
    assert "Add to cart" in page


def test_minus_button_without_javascript_shows_the_new_count_and_its_preview(
    frozen_now, signed_in, remote_support
):
    page = signed_in.post(edit_url(remote_support), {"seats": "8", "adjust": "-1"}).content.decode()
    assert 'value="7"' in page
    assert shown(page, "preview-total") == "€274.89"
    assert not CartLine.objects.exists()


def test_live_preview_fragment(frozen_now, signed_in, remote_support):
    url = reverse("billing_center:preview", args=[remote_support.pk])
    assert shown(signed_in.get(url, {"seats": "7"}).content.decode(), "preview-total") == "€274.89"
    refused = signed_in.get(url, {"seats": "2"}).content.decode()
    assert "3 licenses are assigned to users" in shown(refused, "preview-error")


def test_add_to_cart_then_again_replaces_the_line(frozen_now, signed_in, remote_support):
    response = signed_in.post(edit_url(remote_support), {"seats": "7", "add": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("checkout:cart")
    signed_in.post(edit_url(remote_support), {"seats": "6", "add": "1"})
    assert list(CartLine.objects.values_list("new_seats", flat=True)) == [6]
    page = signed_in.get(reverse("checkout:cart")).content.decode()
    assert "Licenses: 10 → 6" in page and "Checkout" in page


@pytest.mark.parametrize(
    ("seats", "message"),
    [
        ("seven", "whole number"),
        ("7.5", "whole number"),
        ("", "Enter the number of licenses."),
        ("٧", "whole number"),  # Arabic-Indic seven
        ("0", "at least 1 license"),
        ("-4", "at least 1 license"),
        ("1001", "at most 1000 licenses"),
        ("100000000000000000000", "at most 1000 licenses"),
        ("2", "3 licenses are assigned to users. Unassign users first to go below 3."),
        ("10", "already has 10 licenses"),
    ],
)
def test_refused_counts_say_why_next_to_the_field_and_save_nothing(
    signed_in, remote_support, seats, message
):
    response = signed_in.post(edit_url(remote_support), {"seats": seats, "add": "1"})
    page = response.content.decode()
    assert response.status_code == 200
    error = re.search(r'id="seats-error" class="error" role="alert">([^<]*)<', page).group(1)
    assert message in error.replace("&#x27;", "'")
    assert 'aria-invalid="true"' in page
    assert not CartLine.objects.exists()


def test_removing_a_line_and_the_empty_cart(signed_in, remote_support):
    line = put_in_cart(remote_support, 7)
    signed_in.post(reverse("checkout:cart_line_remove", args=[line.pk]))
    assert not CartLine.objects.exists()
    assert "Your cart is empty." in signed_in.get(reverse("checkout:cart")).content.decode()
    assert "Your cart is empty." in signed_in.get(reverse("checkout:review")).content.decode()


# -- Review and Place order -------------------------------------------------------------


def test_review_shows_every_number_of_the_quote(frozen_now, signed_in, remote_support):
    put_in_cart(remote_support, 7)
    page = signed_in.get(reverse("checkout:review")).content.decode()
    assert shown(page, "period") == "Nov. 26, 2026 – Dec. 26, 2026"  # Europe/Berlin
    assert shown(page, "licenses") == "10 → 7"
    assert "€42.00 per license per month" in page
    assert shown(page, "charge") == "€294.00"
    assert shown(page, "credit") == "−€63.00"
    assert shown(page, "subtotal") == "€231.00"
    assert "VAT 19%" in page and shown(page, "tax") == "€43.89"
    assert shown(page, "amount-due") == "€274.89"
    assert "Change order" in page and "Place order" in page
    assert f"{edit_url(remote_support)}?seats=7" in page


def test_change_order_keeps_the_new_count(signed_in, remote_support):
    put_in_cart(remote_support, 7)
    page = signed_in.get(edit_url(remote_support) + "?seats=7").content.decode()
    assert 'name="seats" id="id_seats" value="7"' in page


def test_place_order_and_the_billing_center_shows_the_result(
    frozen_now, signed_in, remote_support, django_capture_on_commit_callbacks
):
    put_in_cart(remote_support, 7)
    token = review_token(signed_in.get(reverse("checkout:review")).content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(reverse("checkout:place"), {"review": token})
    order = Order.objects.get()
    assert response["Location"] == reverse("checkout:order", args=[order.number])
    page = signed_in.get(response["Location"]).content.decode()
    assert "Remote Support v5: 10 → 7 licenses. Next billing date: Dec. 26, 2026." in page
    assert shown(page, "amount-charged") == "€274.89"
    home = signed_in.get(reverse("billing_center:home")).content.decode()
    assert '<dd data-testid="seats">7</dd>' in home
    assert "Dec. 26, 2026" in home
    assert order.number in signed_in.get(reverse("checkout:orders")).content.decode()
    assert len(mail.outbox) == 1


def test_a_double_submit_makes_one_order(frozen_now, signed_in, remote_support):
    put_in_cart(remote_support, 7)
    token = review_token(signed_in.get(reverse("checkout:review")).content.decode())
    first = signed_in.post(reverse("checkout:place"), {"review": token})
    second = signed_in.post(reverse("checkout:place"), {"review": token})
    assert first["Location"] == second["Location"]
    assert Order.objects.count() == 1


def test_an_old_review_shows_the_new_amounts(signed_in, remote_support, frozen_now):
    put_in_cart(remote_support, 7)
    token = review_token(signed_in.get(reverse("checkout:review")).content.decode())
    frozen_now.shift(16 * 60)
    response = signed_in.post(reverse("checkout:place"), {"review": token})
    assert response.status_code == 409
    assert "more than 15 minutes old" in response.content.decode()
    assert not Order.objects.exists()


def test_a_change_after_review_shows_the_new_review_with_a_note(
    frozen_now, signed_in, remote_support
):
    put_in_cart(remote_support, 7)
    token = review_token(signed_in.get(reverse("checkout:review")).content.decode())
    remote_support.plan.price = Money("50.00", "EUR")
    remote_support.plan.save()
    response = signed_in.post(reverse("checkout:place"), {"review": token})
    page = response.content.decode()
    assert response.status_code == 409
    assert "Something changed since your review" in shown(page, "review-note")
    assert shown(page, "charge") == "€350.00"
    assert not Order.objects.exists()


def test_payment_details_are_asked_when_none_are_on_file(
    frozen_now, signed_in, account, remote_support
):
    PaymentMethod.objects.filter(account=account).delete()
    put_in_cart(remote_support, 7)
    page = signed_in.get(reverse("checkout:review")).content.decode()
    assert "Payment details" in page and 'name="card_number"' in page
    token = review_token(page)
    bad = signed_in.post(
        reverse("checkout:place"),
        {"review": token, "card_number": "4242 4242 4242 4241", "expiry": "13/30", "cvc": "12"},
    )
    assert bad.status_code == 400
    body = bad.content.decode()
    assert "Enter a valid card number." in body and "MM/YY" in body and "security code" in body
    assert not Order.objects.exists()
    ok = signed_in.post(
        reverse("checkout:place"),
        {"review": token, "card_number": "4242 4242 4242 4242", "expiry": "12/29", "cvc": "123"},
    )
    assert ok.status_code == 302
    assert PaymentMethod.objects.get(account=account).last4 == "4242"


def test_a_declined_card_shows_the_reason_and_keeps_the_cart(
    frozen_now, signed_in, account, remote_support
):
    PaymentMethod.objects.filter(account=account).update(last4="0002")
    put_in_cart(remote_support, 7)
    token = review_token(signed_in.get(reverse("checkout:review")).content.decode())
    response = signed_in.post(reverse("checkout:place"), {"review": token})
    assert response.status_code == 402
    assert "Your card was declined." in response.content.decode()
    assert CartLine.objects.count() == 1 and not Order.objects.exists()
    remote_support.refresh_from_db()
    assert remote_support.seats == 10


def test_an_eu_business_adds_its_vat_number_and_the_tax_is_recomputed(client, frozen_now):
    membership = MembershipFactory(account__country="FR", account__time_zone="Europe/Paris")
    subscription = SubscriptionFactory(
        account=membership.account, seats=10, billing_anchor=datetime(2026, 11, 1, tzinfo=UTC)
    )
    put_in_cart(subscription, 12)
    client.force_login(membership.user)
    page = client.get(reverse("checkout:review")).content.decode()
    assert "VAT 20%" in page and shown(page, "tax") == "€88.20"  # 441.00 × 20 %
    refused = client.post(reverse("checkout:vat_number"), {"vat_number": "FR00000000000"})
    assert refused.status_code == 400
    assert "not a valid VAT number for FR" in refused.content.decode()
    membership.account.refresh_from_db()
    assert membership.account.vat_number == ""
    client.post(reverse("checkout:vat_number"), {"vat_number": "FR 40 303 265 045"})
    page = client.get(reverse("checkout:review")).content.decode()
    assert "reverse charge" in page and shown(page, "tax") == "€0.00"
    assert shown(page, "amount-due") == "€441.00"


def test_no_vat_number_offer_for_domestic_or_non_eu_customers(signed_in, remote_support):
    put_in_cart(remote_support, 7)
    assert 'name="vat_number"' not in signed_in.get(reverse("checkout:review")).content.decode()
