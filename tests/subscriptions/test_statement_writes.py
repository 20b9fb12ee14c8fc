"""Place order's writes without the ORM's query building (subscriptions/statements.py):
each must store exactly what the ORM's save or bulk_create would have stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import DatabaseError, DataError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from moneyed import Money

from checkout.models import Cart, CartLine, Order, OrderLine
from payments.models import Payment
from subscriptions.models import CreditLedgerEntry, SeatChange
from subscriptions.statements import (
    instance_insert,
    instance_update,
    instance_update_write,
    objects_insert,
    writes_run,
)
from tests.factories import MembershipFactory, PaymentMethodFactory, SubscriptionFactory

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


def test_an_inserted_object_is_stored_as_save_stores_it():
    membership = MembershipFactory()
    account, user = membership.account, membership.user
    by_orm = order(account, user, "BC-1")
    by_orm.save(force_insert=True)
    ours = instance_insert(order(account, user, "BC-2"))

    assert ours.pk is not None and ours.pk != by_orm.pk and not ours._state.adding
    mine, theirs = stored(Order, ours.pk), stored(Order, by_orm.pk)
    assert mine.pop("number") == "BC-2" and theirs.pop("number") == "BC-1"
    assert mine.pop("idempotency_key") == "key-BC-2" and theirs.pop("idempotency_key") == "key-BC-1"
    assert mine == theirs
    assert mine["email_status"] == Order.EmailStatus.PENDING  # a default, as save gives it
    assert Order.objects.get(pk=ours.pk).total == Money("104.32", "EUR")


def test_an_inserted_payment_gets_its_defaults_and_auto_now_as_save_gives_them():
    membership = MembershipFactory()
    card = PaymentMethodFactory(account=membership.account)

    def payment(key: str) -> Payment:
        return Payment(
            account=membership.account,
            payment_method=card,
            created_by=membership.user,
            checkout_token="token",
            idempotency_key=key,
            gateway="sandbox",
            amount=Money("9.99", "EUR"),
            quoted_at=AT,
            fingerprint="f" * 64,
            claimed_until=AT,
            created_at=AT,
        )

    with time_machine.travel(AT + timedelta(minutes=1), tick=False):
        by_orm = payment("a")
        by_orm.save(force_insert=True)
        ours = instance_insert(payment("b"))
    mine, theirs = stored(Payment, ours.pk), stored(Payment, by_orm.pk)
    assert (mine.pop("idempotency_key"), theirs.pop("idempotency_key")) == ("b", "a")
    assert mine == theirs
    assert mine["status"] == Payment.Status.PROCESSING
    assert mine["updated_at"] == AT + timedelta(minutes=1)  # auto_now, set on insert


def test_objects_inserted_together_are_stored_as_bulk_create_stores_them():
    membership = MembershipFactory()
    account, user = membership.account, membership.user
    first, second = SubscriptionFactory(account=account), SubscriptionFactory(account=account)
    placed = instance_insert(order(account, user, "BC-3"))

    def lines() -> list[OrderLine]:
        return [
            OrderLine(
                order=placed,
                subscription=subscription,
                product_name=f"Product {seats}",
                interval="month",
                from_seats=seats,
                to_seats=seats + 2,
                unit_price=Money("21.00", "EUR"),
                period_start=AT,
                period_end=AT + timedelta(days=30),
                new_period_start=AT,
                new_period_end=AT + timedelta(days=31),
                credit=Money("-0.01", "EUR"),
                charge=Money("42.00", "EUR"),
                subtotal=Money("41.99", "EUR"),
                tax=Money("7.98", "EUR"),
                total=Money("49.97", "EUR"),
            )
            for subscription, seats in ((first, 3), (second, 10))
        ]

    def entries() -> list[CreditLedgerEntry]:
        return [
            CreditLedgerEntry(
                account=account,
                amount=amount,
                reason=reason,
                reference="BC-3",
                created_by=user,
                created_at=AT,
            )
            for amount, reason in (
                (Money("5.00", "EUR"), CreditLedgerEntry.Reason.SEAT_CHANGE_CREDIT),
                (Money("-5.00", "EUR"), CreditLedgerEntry.Reason.APPLIED_TO_ORDER),
            )
        ]

    OrderLine.objects.bulk_create(lines())
    CreditLedgerEntry.objects.bulk_create(entries())
    by_orm = (
        list(OrderLine.objects.order_by("id").values()),
        list(CreditLedgerEntry.objects.order_by("id").values()),
    )
    with CaptureQueriesContext(connection) as captured:
        writes_run(*objects_insert(lines()), *objects_insert(entries()))
    assert len(captured) == 1  # both inserts in one round trip

    def without_ids(rows):
        return sorted(
            tuple(sorted((k, str(v)) for k, v in row.items() if k != "id")) for row in rows
        )

    ours = (
        list(OrderLine.objects.order_by("id").values())[2:],
        list(CreditLedgerEntry.objects.order_by("id").values())[2:],
    )
    assert without_ids(ours[0]) == without_ids(by_orm[0]) and len(ours[0]) == 2
    assert without_ids(ours[1]) == without_ids(by_orm[1]) and len(ours[1]) == 2
    assert objects_insert([]) == []


def test_an_update_writes_only_the_named_fields_and_refuses_a_missing_row():
    subscription = SubscriptionFactory(seats=5)
    cart = Cart.objects.create(account=subscription.account)
    CartLine.objects.create(cart=cart, subscription=subscription, new_seats=3)
    old_token = cart.checkout_token

    cart.checkout_token = "00000000-0000-0000-0000-000000000001"
    cart.account_id = 10**9  # not named: not written
    with time_machine.travel(AT, tick=False):
        instance_update(cart, ["checkout_token", "updated_at"])
    fresh = Cart.objects.get(pk=cart.pk)
    assert str(fresh.checkout_token) != str(old_token)
    assert str(fresh.checkout_token) == "00000000-0000-0000-0000-000000000001"
    assert fresh.account_id == subscription.account_id
    assert fresh.updated_at == AT  # auto_now, as save(update_fields=...) sets it

    Cart.objects.filter(pk=cart.pk).delete()
    with pytest.raises(DatabaseError, match="did not exist"):
        instance_update(cart, ["checkout_token"])


def test_writes_sent_together_run_in_order_and_report_the_last_ones_rows():
    subscription = SubscriptionFactory(seats=5)
    cart = Cart.objects.create(account=subscription.account)
    line = CartLine(cart=cart, subscription=subscription, new_seats=4, added_at=AT)
    history = SeatChange(
        subscription=subscription, from_seats=5, to_seats=4, at=AT, channel="portal"
    )
    subscription.seats = 4
    with CaptureQueriesContext(connection) as captured:
        changed = writes_run(
            *objects_insert([line]),
            *objects_insert([history]),
            instance_update_write(subscription, ["seats"]),
        )
    assert len(captured) == 1 and changed == 1
    assert CartLine.objects.get(cart=cart).new_seats == 4
    assert SeatChange.objects.get(subscription=subscription).to_seats == 4
    assert type(subscription).objects.get(pk=subscription.pk).seats == 4

    gone = SeatChange(subscription=subscription, from_seats=4, to_seats=3, at=AT)
    gone.pk = 10**12
    # Earlier writes change rows; the count is the last one's (none).
    more = [
        SeatChange(subscription=subscription, from_seats=4, to_seats=n, at=AT, channel="portal")
        for n in (3, 2)
    ]
    assert writes_run(*objects_insert(more), instance_update_write(gone, ["to_seats"])) == 0
    assert SeatChange.objects.filter(subscription=subscription).count() == 3
    # ...and the other way round.
    subscription.seats = 2
    assert (
        writes_run(
            instance_update_write(gone, ["to_seats"]),
            instance_update_write(subscription, ["seats"]),
        )
        == 1
    )
    assert type(subscription).objects.get(pk=subscription.pk).seats == 2


def test_a_value_too_long_for_its_column_is_refused_not_cut():
    """As bulk_create: the INSERT checks the length; nothing cuts the value to fit."""
    subscription = SubscriptionFactory(seats=5)
    too_long = SeatChange(
        subscription=subscription,
        from_seats=5,
        to_seats=4,
        at=AT,
        channel="portal",
        order_reference="B" * 65,
    )
    with pytest.raises(DataError), transaction.atomic():
        writes_run(*objects_insert([too_long]))
    with pytest.raises(DataError), transaction.atomic():
        SeatChange.objects.bulk_create([too_long])
    assert not SeatChange.objects.exists()


def test_when_one_write_fails_the_transaction_keeps_none_of_them():
    subscription = SubscriptionFactory(seats=5)
    cart = Cart.objects.create(account=subscription.account)
    twice = [CartLine(cart=cart, subscription=subscription, new_seats=n) for n in (4, 6)]
    history = SeatChange(
        subscription=subscription, from_seats=5, to_seats=4, at=AT, channel="portal"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        # The second line breaks the one-line-per-subscription rule of the cart.
        writes_run(*objects_insert([history]), *objects_insert(twice))
    assert not SeatChange.objects.filter(subscription=subscription).exists()
    assert not CartLine.objects.filter(cart=cart).exists()
