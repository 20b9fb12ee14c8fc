"""What finance checks after every step of the billing-history state machine
(``test_service_state_machine.py``): the ledger is the balance, every order adds up
by docs/billing-rules.md, seats never fall below those assigned, each period follows
the one before, and no order is paid twice.

``FinanceInvariants`` is mixed into the machine, which keeps ``account``,
``balance``, ``assigned``, ``seats`` and ``first_period`` up to date.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from django.db.models import Sum
from hypothesis.stateful import (
    invariant,
)
from moneyed import Money

from checkout.models import Order, OrderLine
from payments.models import Payment
from subscriptions.credit import credit_balance
from subscriptions.models import CreditLedgerEntry, SeatChange, Subscription
from subscriptions.proration import period_containing

EUR = "EUR"
ZERO = Money("0.00", EUR)


def cents(value: Decimal) -> Decimal:
    """docs/billing-rules.md: round once to the minor unit, ties away from zero."""
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def fraction_cents(value: Fraction) -> Decimal:
    """An exact amount rounded to cents, ties away from zero (no float, no early rounding)."""
    hundredths = abs(value) * 100
    rounded = math.floor(hundredths + Fraction(1, 2))
    return Decimal(rounded if value >= 0 else -rounded) / 100


class FinanceInvariants:
    """The invariants, checked by hypothesis after every rule of the machine."""

    @invariant()
    def ledger_is_the_balance(self):
        ledger = CreditLedgerEntry.objects.filter(account=self.account)
        total = ledger.aggregate(total=Sum("amount"))["total"] or Decimal("0")
        assert Money(total, EUR) == credit_balance(self.account) == self.balance
        assert self.balance >= ZERO
        orders = {o.number: o for o in Order.objects.filter(account=self.account)}
        by_reference = defaultdict(Decimal)
        for entry in ledger.exclude(reference=""):
            by_reference[entry.reference] += entry.amount.amount
        for reference, amount in by_reference.items():
            order = orders.get(reference)
            if order is None:
                assert amount == 0, f"{reference} holds {amount} without an order"
            else:
                assert amount == (order.credit_added - order.credit_applied).amount, reference

    @invariant()
    def orders_add_up_by_the_rules(self):
        for order in Order.objects.filter(account=self.account).prefetch_related("lines"):
            lines = list(order.lines.all())
            assert lines, order.number
            for name in ("credit", "charge", "subtotal", "total"):
                assert (
                    sum(getattr(line, name).amount for line in lines) == getattr(order, name).amount
                ), (order.number, name)
            assert sum(line.tax.amount for line in lines) == order.tax.amount, order.number
            for line in lines:
                price = line.unit_price.amount
                if order.kind == Order.Kind.RENEWAL:
                    expected_credit = Decimal("0.00")
                else:
                    unused = Fraction(
                        (line.period_end - order.effective_at) // timedelta(microseconds=1),
                        (line.period_end - line.period_start) // timedelta(microseconds=1),
                    )
                    expected_credit = fraction_cents(line.from_seats * Fraction(price) * unused)
                assert line.credit.amount == expected_credit, order.number
                assert line.charge.amount == cents(line.to_seats * price), order.number
                assert line.subtotal.amount == line.charge.amount - line.credit.amount
                assert line.tax.amount == fraction_cents(
                    Fraction(line.subtotal.amount) * Fraction(order.tax_rate) / 100
                ), order.number
                assert line.total.amount == line.subtotal.amount + line.tax.amount
            total = order.total.amount
            if total > 0:
                assert 0 <= order.credit_applied.amount <= total
                assert order.amount_due.amount == total - order.credit_applied.amount
                assert order.credit_added.amount == 0
            else:
                assert order.credit_applied.amount == order.amount_due.amount == 0
                assert order.credit_added.amount == -total

    @invariant()
    def seats_never_below_assigned(self):
        for subscription in Subscription.objects.filter(account=self.account):
            assert (
                subscription.seats
                >= subscription.assignments.count()
                == (self.assigned[subscription.pk])
            )
            assert subscription.seats == self.seats[subscription.pk]

    @invariant()
    def periods_follow_each_other(self):
        for subscription in Subscription.objects.filter(account=self.account).select_related(
            "plan"
        ):
            anchor, start, end = self.first_period[subscription.pk]
            seats = None
            lines = OrderLine.objects.filter(subscription=subscription).select_related("order")
            changes = {
                change.order_reference: change
                for change in SeatChange.objects.filter(subscription=subscription)
            }
            for line in lines.order_by("order_id"):
                order = line.order
                assert (line.period_start, line.period_end) == (start, end), order.number
                if order.kind == Order.Kind.RENEWAL:
                    # Starts where the last period ended; ends where the anchor says.
                    assert line.new_period_start == end
                    assert line.from_seats == line.to_seats
                else:
                    change = changes.pop(order.number)
                    assert start <= order.effective_at < end
                    assert line.new_period_start == order.effective_at == change.at
                    assert (change.from_seats, change.to_seats) == (line.from_seats, line.to_seats)
                    anchor = change.at
                if seats is not None:
                    assert line.from_seats == seats
                seats = line.to_seats
                assert period_containing(
                    anchor, subscription.plan.interval, line.new_period_start
                ) == (line.new_period_start, line.new_period_end)
                start, end = line.new_period_start, line.new_period_end
            assert changes == {}, "a seat change without its order"
            assert (subscription.current_period_start, subscription.current_period_end) == (
                start,
                end,
            )
            assert subscription.billing_anchor == anchor

    @invariant()
    def no_order_paid_twice(self):
        paid = Payment.objects.filter(account=self.account, status=Payment.Status.SUCCEEDED)
        assert not paid.filter(order__isnull=True).exists(), "money taken without an order"
        by_order = defaultdict(list)
        for payment in paid:
            by_order[payment.order_id].append(payment.amount)
        for order in Order.objects.filter(account=self.account):
            expected = [order.amount_due] if order.amount_due.amount else []
            assert by_order.get(order.pk, []) == expected, order.number
