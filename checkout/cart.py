"""The cart's edits: put a seat change in the account's cart, take one out.

Each edit locks the account (as Place order does) and rotates the cart's
token, so a review taken before the edit no longer places an order.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from checkout.models import Cart, CartLine
from checkout.orders import cart_token_rotate
from checkout.selectors import line_problem
from subscriptions import clock
from subscriptions.messages import quote_problem_message
from subscriptions.models import Account, Subscription
from subscriptions.selectors import subscription_seat_change_quote


def cart_line_set(
    *, account: Account, subscription: Subscription, new_seats: int, assigned_seats: int
) -> CartLine:
    """Put a seat change in the account's cart, replacing that subscription's line.

    Refuses (``ValidationError`` carrying the rule's ``QuoteError``) a count the
    rules do not allow; nothing is saved then.
    """
    if subscription.account_id != account.pk:
        raise ValidationError("This subscription belongs to another account.")
    problem = line_problem(
        subscription=subscription, new_seats=new_seats, assigned_seats=assigned_seats
    )
    if problem:
        raise ValidationError(problem)
    try:  # a line that cannot be quoted now (a period awaiting renewal) is not added
        subscription_seat_change_quote(subscription=subscription, new_seats=new_seats)
    except ValueError as error:
        raise ValidationError(quote_problem_message(error)) from None
    with transaction.atomic():
        Account.objects.select_for_update().get(pk=account.pk)
        cart, _ = Cart.objects.get_or_create(account=account)
        line, _ = CartLine.objects.update_or_create(
            cart=cart,
            subscription=subscription,
            defaults={"new_seats": new_seats, "added_at": clock.now()},
        )
        cart_token_rotate(cart)
    return line


def cart_line_remove(*, account: Account, line_id: int) -> None:
    """Take a line out of the account's cart; another account's line is not found."""
    with transaction.atomic():
        Account.objects.select_for_update().get(pk=account.pk)
        cart = Cart.objects.get(account=account)
        line = CartLine.objects.get(cart=cart, pk=line_id)
        line.delete()
        cart_token_rotate(cart)
