"""subscriptions.bulk: its INSERT and UPDATE store exactly what the ORM would."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.forms.models import model_to_dict
from djmoney.models.fields import MoneyField
from moneyed import Money

from checkout.models import Order
from checkout.renewals import _payments_insert
from payments.models import Payment
from subscriptions.bulk import money_columns, rows_insert

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _order_fields(account) -> dict:
    return {
        "kind": Order.Kind.RENEWAL,
        "account": account,
        "placed_by": None,
        "placed_at": AT,
        "effective_at": AT,
        "language": "de",
        "tax_kind": "domestic",
        "tax_rate": Decimal("19.00"),
        "vat_number": "DE123456789",
        "credit": Money("0.00", "EUR"),
        "charge": Money("420.00", "EUR"),
        "subtotal": Money("420.00", "EUR"),
        "tax": Money("79.80", "EUR"),
        "total": Money("499.80", "EUR"),
        "credit_applied": Money("50.00", "EUR"),
        "credit_added": Money("0.00", "EUR"),
        "amount_due": Money("449.80", "EUR"),
        "payment_method_label": "Visa •••• 4242",
    }


def _stored(order: Order) -> dict:
    order.refresh_from_db()
    values = model_to_dict(order, exclude=["id", "number", "idempotency_key"])
    return {
        **values,
        **{
            f"{field.name}_currency": str(getattr(order, field.name).currency)
            for field in Order._meta.concrete_fields
            if isinstance(field, MoneyField)
        },
    }


def test_an_order_inserted_by_the_run_reads_back_as_one_the_orm_created(account):
    fields = _order_fields(account)
    orm = Order.objects.create(number="RN-ORM", idempotency_key="renewal:orm", **fields)
    money = {name: value for name, value in fields.items() if isinstance(value, Money)}
    plain = {
        name: value
        for name, value in fields.items()
        if name not in money and name not in {"kind", "account", "placed_by", "placed_at"}
    }
    [pk] = rows_insert(
        Order,
        {"kind": Order.Kind.RENEWAL, "placed_by": None, "placed_at": AT},
        [
            {
                "number": "RN-FAST",
                "idempotency_key": "renewal:fast",
                "account_id": account.pk,
                **plain,
                **money_columns(**money),
            }
        ],
    )
    fast = Order.objects.get(pk=pk)
    assert _stored(fast) == _stored(orm)
    assert fast.email_status == Order.EmailStatus.PENDING  # the model's default


def test_rows_come_back_with_their_ids_in_order(account):
    fields = _order_fields(account)
    money = money_columns(**{k: v for k, v in fields.items() if isinstance(v, Money)})
    rows = [
        {
            "number": f"RN-{n}",
            "idempotency_key": f"renewal:{n}",
            "account_id": account.pk,
            "effective_at": AT,
            "tax_kind": "domestic",
            "tax_rate": Decimal(n),
            **money,
        }
        for n in range(5)
    ]
    ids = rows_insert(Order, {"kind": Order.Kind.RENEWAL, "placed_at": AT}, rows)
    assert [Order.objects.get(pk=pk).number for pk in ids] == [f"RN-{n}" for n in range(5)]


def test_a_not_null_column_nobody_gives_is_refused_and_nothing_is_written(account):
    money = money_columns(
        **{k: v for k, v in _order_fields(account).items() if isinstance(v, Money)}
    )
    row = {
        "number": "RN-1",
        "idempotency_key": "renewal:1",
        "account_id": account.pk,
        "tax_kind": "domestic",
        "tax_rate": Decimal(19),
        **money,
    }  # no effective_at
    with pytest.raises(ValueError, match="effective_at is not given"):
        rows_insert(Order, {"kind": Order.Kind.RENEWAL, "placed_at": AT}, [row])
    with pytest.raises(ValueError, match="no column"):
        rows_insert(Order, {"placed_at": AT}, [{**row, "effective_at": AT, "colour": "red"}])
    assert not Order.objects.exists()


def test_payments_inserted_by_the_run_get_their_ids_and_keep_their_amounts(account):
    payments = [
        Payment(
            account=account,
            checkout_token=f"renewal:{n}",
            idempotency_key=f"renewal:{n}:1",
            gateway="sandbox",
            amount=Money(f"{n}.50", "EUR"),
            quoted_at=AT,
            fingerprint="",
            language="de",
            claimed_until=AT,
            created_at=AT,
        )
        for n in (1, 2)
    ]
    _payments_insert(payments)
    stored = {p.pk: p for p in Payment.objects.all()}
    assert [stored[p.pk].amount for p in payments] == [Money("1.50", "EUR"), Money("2.50", "EUR")]
    assert all(stored[p.pk].status == Payment.Status.PROCESSING for p in payments)
    assert all(stored[p.pk].claimed_until == AT for p in payments)


def test_an_update_writes_each_rows_own_values_and_the_shared_ones_once(account):
    from subscriptions.bulk import rows_update
    from subscriptions.models import Subscription
    from tests.factories import SubscriptionFactory

    first, second = (SubscriptionFactory(account=account, seats=n) for n in (3, 4))
    first.seats, second.seats = 7, 9  # different in each row
    first.status = second.status = Subscription.Status.PAST_DUE  # the same in both
    rows_update(Subscription, [first, second], ["seats", "status"], increment=["version"])
    stored = {s.pk: (s.seats, s.status, s.version) for s in Subscription.objects.all()}
    assert stored == {first.pk: (7, "past_due", 2), second.pk: (9, "past_due", 2)}
    assert (first.version, second.version) == (2, 2)  # the objects hold the new values
