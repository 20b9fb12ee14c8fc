"""Place order's reads: what they find, and the rows they lock until the transaction ends."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from moneyed import Money

from checkout.models import Cart, CartLine, Order
from checkout.selectors import (
    account_locked,
    cart_lines,
    checkout_at_claim,
    checkout_attempts_locked,
    checkout_order,
)
from payments.models import Payment
from subscriptions.models import Account, Subscription
from tests.factories import MembershipFactory, PaymentMethodFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


def refused_elsewhere(model, pk: int) -> bool:
    """Whether another connection is refused a lock on the row right now."""
    refused = []

    def try_to_lock_it():
        try:
            with transaction.atomic():
                model.objects.select_for_update(nowait=True).get(pk=pk)
        except DatabaseError:
            refused.append(True)
        finally:
            connection.close()  # gives the thread's connection back to the pool

    other = threading.Thread(target=try_to_lock_it)
    other.start()
    other.join()
    return refused == [True]


def test_the_cart_is_locked_only_inside_a_transaction(transactional_db):
    """Place order's read of the cart locks its subscriptions (FOR UPDATE OF them)."""
    subscription = SubscriptionFactory()
    cart = Cart.objects.create(account=subscription.account)
    CartLine.objects.create(cart=cart, subscription=subscription, new_seats=3)
    with pytest.raises(TransactionManagementError):
        cart_lines(account=subscription.account, lock=True)

    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        [line] = cart_lines(account=subscription.account, lock=True)
        assert (line.new_seats, line.assigned_seats, line.subscription.plan.product.name) == (
            3,
            0,
            subscription.plan.product.name,
        )
        assert line.cart == cart
        assert len(captured) == 1  # cart, subscription, plan and product joined
        assert refused_elsewhere(Subscription, subscription.pk)
        assert not refused_elsewhere(Cart, cart.pk)  # only the subscriptions
    assert not refused_elsewhere(Subscription, subscription.pk)


def test_the_account_is_locked_until_the_transaction_ends(transactional_db):
    account = MembershipFactory().account
    with transaction.atomic():
        assert account_locked(account_id=account.pk) == account
        assert refused_elsewhere(Account, account.pk)
    assert not refused_elsewhere(Account, account.pk)
    with pytest.raises(Account.DoesNotExist), transaction.atomic():
        account_locked(account_id=10**9)


def test_the_claim_reads_the_checkouts_order_open_attempts_and_card_on_file():
    membership = MembershipFactory()
    account, user = membership.account, membership.user
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        fresh = checkout_at_claim(account=account, checkout_token="t-1")
    assert (fresh.order_id, fresh.open_attempts, fresh.payment_method) == (None, 0, None)
    assert len(captured) == 1

    card = PaymentMethodFactory(account=account)
    PaymentMethodFactory(account=account, is_default=False)  # not the card on file
    attempt = Payment.objects.create(
        account=account,
        payment_method=card,
        created_by=user,
        checkout_token="t-1",
        idempotency_key="checkout:t-1:1",
        gateway="sandbox",
        amount=Money("9.99", "EUR"),
        quoted_at=AT,
        fingerprint="f",
    )
    with transaction.atomic():
        tried = checkout_at_claim(account=account, checkout_token="t-1")
    assert (tried.order_id, tried.open_attempts, tried.payment_method) == (None, 1, card)
    assert tried.payment_method.last4 == card.last4
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        [open_attempt] = checkout_attempts_locked(account=account, checkout_token="t-1")
        assert open_attempt.payment_method.last4 == card.last4  # read with it
    assert open_attempt.pk == attempt.pk and len(captured) == 1

    placed = Order.objects.create(
        number="BC-9",
        account=account,
        placed_by=user,
        placed_at=AT,
        effective_at=AT,
        idempotency_key="t-1",
        tax_kind="domestic",
        tax_rate="19.00",
        **dict.fromkeys(
            ["credit", "charge", "subtotal", "tax", "total", "credit_applied", "credit_added"],
            Money("0.00", "EUR"),
        ),
        amount_due=Money("0.00", "EUR"),
    )
    Payment.objects.filter(pk=attempt.pk).update(order=placed)
    assert checkout_order(account_id=account.pk, checkout_token="t-1") == placed
    assert checkout_order(account_id=account.pk, checkout_token="t-2") is None
    with transaction.atomic():
        done = checkout_at_claim(account=account, checkout_token="t-1")
        other = checkout_at_claim(account=account, checkout_token="t-2")
    assert (done.order_id, done.open_attempts) == (placed.pk, 0)
    assert (other.order_id, other.open_attempts) == (None, 0)
    with transaction.atomic():
        # It has its order.
        assert checkout_attempts_locked(account=account, checkout_token="t-1") == []
