"""The one order writer, the one attempt writer and the batch writes under them:
what they store is what the ORM's save and bulk_create store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import DatabaseError, DataError, transaction
from moneyed import Money

from checkout.models import Order, OrderLine
from checkout.orders import OrderDraft, orders_write
from core.batch_writes import SET_BASED_FROM, batch_insert, batch_update
from payments.attempts import payment_attempt_new, payment_attempts_create
from payments.models import Payment
from subscriptions.models import CreditLedgerEntry, SeatChange, Subscription
from tests.factories import MembershipFactory, PaymentMethodFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 3, 9, 30, 15, 123456, tzinfo=UTC)


def stored(model, pk: int, *, leave_out=("id",)) -> dict:
    row = model.objects.filter(pk=pk).values().get()
    return {name: value for name, value in row.items() if name not in leave_out}


def order(account, user, number: str) -> Order:
    """An order with a value of every kind: money, a decimal rate, a choice, blank and
    null columns, datetimes."""
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
        credit=Money("12.34", "EUR"),
        charge=Money("100.00", "EUR"),
        subtotal=Money("87.66", "EUR"),
        tax=Money("16.66", "EUR"),
        total=Money("104.32", "EUR"),
        credit_applied=Money("0.00", "EUR"),
        credit_added=Money("0.00", "EUR"),
        amount_due=Money("104.32", "EUR"),
        payment_method_label="Visa •••• 4242 (12/2030)",
    )


def test_an_inserted_order_is_stored_as_save_stores_it():
    membership = MembershipFactory()
    account, user = membership.account, membership.user
    by_orm = order(account, user, "BC-1")
    by_orm.save(force_insert=True)
    [ours] = batch_insert([order(account, user, "BC-2")])

    assert ours.pk is not None and ours.pk != by_orm.pk and not ours._state.adding
    mine, theirs = stored(Order, ours.pk), stored(Order, by_orm.pk)
    assert mine.pop("number") == "BC-2" and theirs.pop("number") == "BC-1"
    assert mine.pop("idempotency_key") == "key-BC-2" and theirs.pop("idempotency_key") == "key-BC-1"
    assert mine == theirs
    assert mine["email_status"] == Order.EmailStatus.PENDING  # a default, as save gives it
    assert Order.objects.get(pk=ours.pk).total == Money("104.32", "EUR")


def test_attempts_created_together_get_their_ids_in_order_defaults_and_auto_now():
    membership = MembershipFactory()
    card = PaymentMethodFactory(account=membership.account)

    def attempt(n: int) -> Payment:
        return payment_attempt_new(
            account=membership.account,
            payment_method=card,
            created_by=membership.user,
            checkout_token=f"renewal:{n}",
            idempotency_key=f"renewal:{n}:1",
            gateway_name="sandbox",
            amount=Money(f"{n}.50", "CHF"),
            quoted_at=AT,
            language="de",
            claimed_until=AT,
            created_at=AT,
        )

    with time_machine.travel(AT + timedelta(minutes=1), tick=False):
        by_orm = attempt(9)
        by_orm.save(force_insert=True)
        ours = payment_attempts_create([attempt(1), attempt(2)])
    assert [p.idempotency_key for p in Payment.objects.filter(pk__in=[p.pk for p in ours])] == [
        "renewal:2:1",
        "renewal:1:1",
    ]  # newest first: ids in the order given
    assert [Payment.objects.get(pk=p.pk).amount for p in ours] == [
        Money("1.50", "CHF"),
        Money("2.50", "CHF"),
    ]
    mine, theirs = stored(Payment, ours[0].pk), stored(Payment, by_orm.pk)
    for row in (mine, theirs):
        row.pop("idempotency_key"), row.pop("checkout_token"), row.pop("amount")
    assert mine == theirs
    assert mine["status"] == Payment.Status.PROCESSING
    assert mine["updated_at"] == AT + timedelta(minutes=1)  # auto_now, set on insert


def test_a_value_too_long_for_its_column_is_refused_not_cut():
    """The set-based statements (a renewal batch) refuse a value too long for its column,
    as the ORM's insert does; they never cut it to fit."""
    subscriptions = [SubscriptionFactory(seats=5) for _ in range(SET_BASED_FROM)]
    orders = [order(s.account, None, f"R-{n}") for n, s in enumerate(subscriptions)]
    orders[-1].number = "B" * 40
    with pytest.raises(DataError), transaction.atomic():
        batch_insert(orders)
    assert not Order.objects.exists()
    subscriptions[-1].status = "s" * 40
    with pytest.raises(DataError), transaction.atomic():
        batch_update(Subscription, subscriptions, ["status"])
    assert Subscription.objects.get(pk=subscriptions[-1].pk).status == Subscription.Status.ACTIVE


def test_an_update_writes_each_rows_values_and_bumps_the_version():
    first, second = SubscriptionFactory(seats=3), SubscriptionFactory(seats=4)
    first.seats, second.seats = 7, 9
    first.status = second.status = Subscription.Status.PAST_DUE
    first.account_id = 10**9  # not named: not written
    assert batch_update(Subscription, [first, second], ["seats", "status"], increment=["version"])
    stored_rows = {s.pk: (s.seats, s.status, s.version) for s in Subscription.objects.all()}
    assert stored_rows == {first.pk: (7, "past_due", 2), second.pk: (9, "past_due", 2)}
    assert (first.version, second.version) == (2, 2)  # the objects hold the new values
    assert Subscription.objects.get(pk=first.pk).account_id != 10**9


def _draft(subscription, user, number: str, payment=None) -> OrderDraft:
    placed = order(subscription.account, user, number)
    line = OrderLine(
        subscription=subscription,
        product_name="Product",
        interval="month",
        from_seats=subscription.seats,
        to_seats=subscription.seats + 2,
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
    history = SeatChange(
        subscription=subscription,
        from_seats=subscription.seats,
        to_seats=subscription.seats + 2,
        at=AT,
        channel="portal",
        order_reference=number,
    )
    credit = CreditLedgerEntry(
        account=subscription.account,
        amount=Money("5.00", "EUR"),
        reason=CreditLedgerEntry.Reason.SEAT_CHANGE_CREDIT,
        reference=number,
        created_at=AT,
    )
    subscription.seats += 2
    return OrderDraft(
        order=placed,
        lines=[line],
        subscriptions=[subscription],
        seat_changes=[history],
        credit=[credit],
        payment=payment,
    )


def test_orders_are_written_with_all_they_change(django_capture_on_commit_callbacks):
    membership = MembershipFactory()
    subscriptions = [SubscriptionFactory(account=membership.account, seats=n) for n in (3, 5)]
    payment = payment_attempts_create(
        [
            payment_attempt_new(
                account=membership.account,
                payment_method=None,
                checkout_token="key-BC-A",
                idempotency_key="key-BC-A:1",
                gateway_name="sandbox",
                amount=Money("104.32", "EUR"),
                quoted_at=AT,
                claimed_until=AT,
                created_at=AT,
            )
        ]
    )[0]
    payment.status = Payment.Status.SUCCEEDED
    drafts = [
        _draft(subscriptions[0], membership.user, "BC-A", payment),
        _draft(subscriptions[1], membership.user, "BC-B"),
    ]
    with django_capture_on_commit_callbacks() as confirmations:
        orders = orders_write(drafts, subscription_fields=["seats"])
    assert len(confirmations) == 2  # one confirmation email each, after commit
    for placed, subscription in zip(orders, subscriptions, strict=True):
        assert placed.lines.get().subscription_id == subscription.pk
        assert SeatChange.objects.get(order_reference=placed.number).to_seats == subscription.seats
        assert CreditLedgerEntry.objects.get(reference=placed.number).amount == Money(5, "EUR")
        fresh = Subscription.objects.get(pk=subscription.pk)
        assert (fresh.seats, fresh.version) == (subscription.seats, 2)
    paid = Payment.objects.get(pk=payment.pk)
    assert (paid.order_id, paid.status, paid.claimed_until) == (orders[0].pk, "succeeded", None)


def test_a_payment_gone_before_its_order_is_recorded_writes_nothing():
    membership = MembershipFactory()
    subscription = SubscriptionFactory(account=membership.account, seats=3)
    gone = payment_attempt_new(
        account=membership.account,
        payment_method=None,
        checkout_token="t",
        idempotency_key="t:1",
        gateway_name="sandbox",
        amount=Money("1.00", "EUR"),
        quoted_at=AT,
        created_at=AT,
    )
    gone.pk = 10**12
    with pytest.raises(DatabaseError, match="not there"), transaction.atomic():
        orders_write(
            [_draft(subscription, membership.user, "BC-C", gone)], subscription_fields=["seats"]
        )
    assert not Order.objects.exists() and not SeatChange.objects.exists()
    assert Subscription.objects.get(pk=subscription.pk).seats == 3
