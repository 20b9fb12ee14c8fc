"""What Place order's claim reads under the account lock (checkout.selectors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from moneyed import Money

from checkout.models import Order
from payments.models import Payment
from tests.factories import MembershipFactory, PaymentMethodFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 3, 9, 30, 15, 123456, tzinfo=UTC)


def stored(model, pk: int, *, leave_out=("id",)) -> dict:
    """A row as the database holds it, read back through the ORM."""
    row = model.objects.filter(pk=pk).values().get()
    return {name: value for name, value in row.items() if name not in leave_out}


def order(account, user, number: str) -> Order:
    """An order with a value of every kind: money in two currencies' worth of fields,
    a decimal rate, a choice, blank and null columns, datetimes."""
    eur = "EUR"
    return Order(
        number=number,
        account=account,
        placed_by=user,
        placed_at=AT,
        effective_at=AT - timedelta(seconds=1),
        idempotency_key=f"key-{number}",
        language="de",
        tax_kind="domestic",
        tax_rate=Decimal("19.00"),
        vat_number="",
        credit=Money("12.34", eur),
        charge=Money("100.00", eur),
        subtotal=Money("87.66", eur),
        tax=Money("16.66", eur),
        total=Money("104.32", eur),
        credit_applied=Money("0.00", eur),
        credit_added=Money("0.00", eur),
        amount_due=Money("104.32", eur),
        payment_method_label="Visa •••• 4242 (12/2030)",
    )


# -- What Place order's claim reads in one statement under the account lock -------------


def test_the_claim_reads_the_checkouts_order_open_attempts_and_card_on_file():
    from checkout.selectors import checkout_at_claim, checkout_attempts_locked

    membership = MembershipFactory()
    account, user = membership.account, membership.user
    with transaction.atomic():
        fresh = checkout_at_claim(account=account, checkout_token="t-1")
    assert (fresh.order_id, fresh.open_attempts, fresh.payment_method) == (None, 0, None)

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

    placed = order(account, user, "BC-9")
    placed.save()
    Order.objects.filter(pk=placed.pk).update(idempotency_key="t-1")
    Payment.objects.filter(pk=attempt.pk).update(order=placed)
    with transaction.atomic():
        done = checkout_at_claim(account=account, checkout_token="t-1")
        other = checkout_at_claim(account=account, checkout_token="t-2")
    assert (done.order_id, done.open_attempts) == (placed.pk, 0)
    assert (other.order_id, other.open_attempts) == (None, 0)
    with transaction.atomic():
        # It has its order.
        assert checkout_attempts_locked(account=account, checkout_token="t-1") == []
