"""instance_new: a new object built positionally, as the ORM's constructor would."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


# -- instance_new: a new object built positionally, as the ORM's constructor would -----


def test_a_new_object_built_positionally_is_the_one_keyword_arguments_build():
    from datetime import UTC, datetime, timedelta

    import time_machine
    from moneyed import Money

    from payments.models import Payment
    from subscriptions.statements import attnames, instance_new

    at = datetime(2026, 12, 1, tzinfo=UTC)
    columns = {
        "checkout_token": "renewal:abc",
        "idempotency_key": "renewal:abc:1",
        "gateway": "sandbox",
        "quoted_at": at,
        "language": "de",
        "claimed_until": at,
        "created_at": at,
    }
    by_keywords = Payment(
        account_id=7, payment_method_id=9, amount=Money("12.34", "CHF"), **columns
    )
    positional = instance_new(
        Payment,
        account_id=7,
        payment_method_id=9,
        amount_currency="CHF",
        amount=Money("12.34", "CHF"),
        **columns,
    )

    for name in attnames(Payment):
        assert getattr(positional, name) == getattr(by_keywords, name), name
    assert positional.amount == Money("12.34", "CHF")
    assert positional.status == Payment.Status.PROCESSING  # a default
    assert positional.pk is None and positional._state.adding

    # a callable default is called for each object, not once
    with time_machine.travel(at, tick=False) as traveller:
        first = instance_new(Payment)
        traveller.shift(60)
        second = instance_new(Payment)
    assert (first.created_at, second.created_at) == (at, at + timedelta(seconds=60))
    with pytest.raises(TypeError, match="not columns of Payment: account"):
        instance_new(Payment, account=None)
