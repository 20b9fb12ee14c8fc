"""A renewal's order reads as a renewal, not as a change the customer made."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse

from checkout.models import Order
from tests.renewals.conftest import DEC_1, renew, subscribe


def test_a_renewal_order_says_it_renewed_and_shows_the_licenses_once(
    acme, anna, mailoutbox, django_capture_on_commit_callbacks
):
    subscribe(acme, plan__product__name="Remote Support v5")
    with django_capture_on_commit_callbacks(execute=True):
        renew(DEC_1 + timedelta(minutes=1))
    order = Order.objects.get(kind=Order.Kind.RENEWAL)

    response = anna.get(reverse("checkout:order", args=[order.number]))
    page = " ".join(response.content.decode().split())
    assert "The subscription is renewed for a new billing period." in page
    assert "Remote Support v5: 10 licenses, renewed. Next billing date: Jan. 1, 2027." in page
    assert "Thank you" not in page and "10 → 10" not in page
    orders = " ".join(anna.get(reverse("checkout:orders")).content.decode().split())
    assert "Remote Support v5: 10" in orders and "10 → 10" not in orders
    [email] = [m for m in mailoutbox if order.number in m.subject or order.number in m.body]
    assert "10 → 10" not in email.body and "Number of licenses: 10" in email.body
