"""Helpers shared by the checkout tests and others: placing an order, the edit page's URL."""

from __future__ import annotations

from django.urls import reverse

from checkout.models import Cart
from checkout.selectors import cart_review
from checkout.services import (
    order_place,
)
from tests.checkout.conftest import AT


def place(account, admin, *, at=AT, fingerprint=None, token=None, amount_due=None, **kwargs):
    """Place order as the review page would: with what the review showed, signed."""
    review = cart_review(account=account, at=at)
    cart = Cart.objects.get(account=account)
    return order_place(
        account=account,
        placed_by=admin,
        checkout_token=token or cart.checkout_token,
        quoted_at=at,
        fingerprint=fingerprint or review.quote.fingerprint(),
        amount_due=amount_due or review.quote.amount_due,
        **kwargs,
    )


def edit_url(subscription) -> str:
    return reverse("billing_center:edit", args=[subscription.pk])
