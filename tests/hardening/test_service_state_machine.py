"""Issue #6, hardening 14: random histories through the services keep the money invariants.

A hypothesis state machine drives the services a billing admin, support
staff and the renewal run use — seat changes placed with ``order_place``
(the card on file, a typed card, a declined card), seats assigned to users,
account credits and corrections, the clock moving on and ``subscriptions_renew``
— and after every step checks what finance would (``billing_invariants.py``):

- the credit ledger sums to the account's balance, never below zero, and
  each order's entries are exactly its credit added minus its credit applied;
- every order's lines add up to its totals, each line follows docs/billing-rules.md
  (credit, charge, tax each rounded once, half up) and the order settles its
  total against the credit as the rules say;
- no subscription has fewer licenses than are assigned;
- each period starts where the previous one ended (a renewal) or at a seat
  change inside it, its end counted from the billing anchor;
- no order is paid twice, and no money is taken without an order.

Each example starts from the same clean state: the machine opens a savepoint
on PostgreSQL when it starts and rolls it back when it ends.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    precondition,
    rule,
    run_state_machine_as_test,
)
from moneyed import Money

from checkout.cart import cart_line_remove, cart_line_set
from checkout.models import Cart, Order
from checkout.selectors import cart_review
from checkout.services import PaymentFailed, order_place
from payments.cards import payment_method_store as card_on_file_replace
from payments.gateways import CardDetails, SandboxGateway, SavedCard
from payments.models import Payment, PaymentMethod
from renewals.run import subscriptions_renew
from subscriptions.models import CreditLedgerEntry, Membership, SeatChange, Subscription
from subscriptions.proration import quote_seat_change, settle_total
from subscriptions.services import account_credit_adjust, seat_assign
from tests.factories import (
    MembershipFactory,
    PaymentMethodFactory,
    SubscriptionFactory,
    UserFactory,
)
from tests.hardening.billing_invariants import EUR, ZERO, FinanceInvariants

START = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
VAT = Decimal("19")
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
# What the examples did, so the test can show it exercised every path it claims to.
SEEN: Counter[str] = Counter()


class BillingHistory(FinanceInvariants, RuleBasedStateMachine):
    """One German account (19 % VAT) with a monthly and a yearly subscription."""

    def __init__(self) -> None:
        super().__init__()
        self.savepoint = transaction.atomic()
        self.savepoint.__enter__()
        self.traveller = time_machine.travel(START, tick=False)
        self.clock = self.traveller.start()
        self.gateway = SandboxGateway()
        membership = MembershipFactory(account__country="DE")
        self.account, self.admin = membership.account, membership.user
        self.staff = UserFactory(is_staff=True)
        PaymentMethodFactory(account=self.account)
        monthly = SubscriptionFactory(
            account=self.account,
            seats=10,
            billing_anchor=datetime(2026, 11, 1, tzinfo=UTC),
            plan__max_seats=60,
        )
        yearly = SubscriptionFactory(
            account=self.account,
            seats=4,
            billing_anchor=datetime(2026, 3, 15, 9, 30, tzinfo=UTC),
            plan__interval="year",
            plan__price=Money("123.45", EUR),
            plan__max_seats=60,
        )
        self.subscriptions = [monthly, yearly]
        # What the model expects, kept apart from what the services write.
        self.balance = ZERO
        self.seats = {s.pk: s.seats for s in self.subscriptions}
        self.assigned = {s.pk: 0 for s in self.subscriptions}
        self.first_period = {
            s.pk: (s.billing_anchor, s.current_period_start, s.current_period_end)
            for s in self.subscriptions
        }

    def teardown(self) -> None:
        self.traveller.stop()
        transaction.set_rollback(True)
        self.savepoint.__exit__(None, None, None)

    # -- helpers --------------------------------------------------------------------------

    def now(self) -> datetime:
        from subscriptions import clock

        return clock.now()

    def fresh(self, index: int) -> Subscription:
        return Subscription.objects.select_related("plan", "account").get(
            pk=self.subscriptions[index].pk
        )

    def written(self) -> tuple:
        return (
            Order.objects.count(),
            SeatChange.objects.count(),
            CreditLedgerEntry.objects.count(),
            Payment.objects.filter(status=Payment.Status.SUCCEEDED).count(),
        )

    def refusal_expected(self, subscription: Subscription, new_seats: int) -> bool:
        return (
            new_seats > subscription.plan.max_seats
            or new_seats < self.assigned[subscription.pk]
            or new_seats == subscription.seats
            or self.now() >= subscription.current_period_end
        )

    def empty_cart(self) -> None:
        cart = Cart.objects.filter(account=self.account).first()
        for line in cart.lines.all() if cart else ():
            cart_line_remove(account=self.account, line_id=line.pk)

    # -- rules ----------------------------------------------------------------------------

    @rule(
        index=st.sampled_from([0, 1]),
        # Mostly few licenses, so that going below the assigned ones is tried too.
        new_seats=st.integers(1, 12) | st.integers(1, 66),
        other_seats=st.none() | st.integers(1, 66),
        pay_with=st.sampled_from(["card on file", "typed card", "declined card"]),
    )
    def change_seats(self, index, new_seats, other_seats, pay_with):
        """The billing admin puts one or two seat changes in the cart and places the order."""
        self.empty_cart()
        wanted = [(index, new_seats)]
        if other_seats is not None:
            wanted.append((1 - index, other_seats))
        accepted = []
        for which, seats in wanted:
            subscription = self.fresh(which)
            before = self.written()
            try:
                cart_line_set(
                    account=self.account,
                    subscription=subscription,
                    new_seats=seats,
                    assigned_seats=subscription.assignments.count(),
                )
            except ValidationError:
                assert self.refusal_expected(subscription, seats), (subscription.seats, seats)
                assert self.written() == before
                below = seats < self.assigned[subscription.pk]
                SEEN["refused: below assigned" if below else "refused: other rule"] += 1
                continue
            assert not self.refusal_expected(subscription, seats), (subscription.seats, seats)
            accepted.append((subscription, seats))
        if not accepted:
            return
        now = self.now()
        review = cart_review(account=self.account, at=now)
        assert review.can_place, (review.problems, review.error)
        expected = self.expected_change(accepted, now)
        assert review.quote.amount_due == expected["amount_due"]
        card = None
        if pay_with != "card on file":
            number = GOOD_CARD if pay_with == "typed card" else DECLINED_CARD
            card = CardDetails(number=number, exp_month=12, exp_year=2030, cvc="123")
        on_file = PaymentMethod.objects.get(account=self.account, is_default=True)
        declines = (card.number if card else on_file.last4).endswith("0002")
        before = self.written()
        try:
            order = order_place(
                account=self.account,
                placed_by=self.admin,
                checkout_token=review.cart.checkout_token,
                quoted_at=now,
                fingerprint=review.quote.fingerprint(),
                amount_due=review.quote.amount_due,
                card=card,
                gateway=self.gateway,
            )
        except PaymentFailed as failed:
            assert declines and expected["amount_due"].amount > 0, failed.reason
            assert self.written() == before
            assert PaymentMethod.objects.get(account=self.account, is_default=True) == on_file
            SEEN["card declined"] += 1
            return
        assert not (declines and expected["amount_due"].amount > 0)
        for name, amount in expected.items():
            assert getattr(order, name) == amount, name
        self.balance += order.credit_added - order.credit_applied
        SEEN[f"{len(accepted)}-line order {'paid' if order.amount_due else 'free'}"] += 1
        for subscription, seats in accepted:
            self.seats[subscription.pk] = seats
            after = self.fresh(self.subscriptions.index(subscription))
            assert (after.seats, after.current_period_start) == (seats, now)

    def expected_change(self, accepted, now) -> dict:
        """The order the model expects: each line by the rules, the total settled once."""
        total = ZERO
        for subscription, seats in accepted:
            line = quote_seat_change(
                unit_price=subscription.plan.price,
                interval=subscription.plan.interval,
                current_seats=self.seats[subscription.pk],
                new_seats=seats,
                period_start=subscription.current_period_start,
                period_end=subscription.current_period_end,
                at=now,
                tax_rate=VAT,
                account_credit=ZERO,
            )
            total += line.total
        credit_applied, amount_due, credit_added = settle_total(total, self.balance)
        return {
            "total": total,
            "credit_applied": credit_applied,
            "amount_due": amount_due,
            "credit_added": credit_added,
        }

    @rule(index=st.sampled_from([0, 1]), users=st.integers(1, 4))
    def assign_seats(self, index, users):
        """Support gives new members licenses, as long as one is free."""
        subscription = self.fresh(index)
        for _ in range(users):
            user = MembershipFactory(account=self.account, role=Membership.Role.MEMBER).user
            try:
                seat_assign(subscription=subscription, user=user)
            except ValidationError:
                assert self.assigned[subscription.pk] >= subscription.seats
                SEEN["no free license to assign"] += 1
                return
            self.assigned[subscription.pk] += 1
            assert self.assigned[subscription.pk] <= subscription.seats

    @rule(amount=st.integers(-6000, 6000).map(lambda c: Money(Decimal(c) / 100, EUR)))
    def adjust_credit(self, amount):
        """Support adds goodwill credit or takes a correction off the balance."""
        kind = CreditLedgerEntry.Reason.GOODWILL if amount.amount > 0 else "correction"
        before = self.written()
        try:
            account_credit_adjust(
                account=self.account, amount=amount, kind=kind, reason="test", staff=self.staff
            )
        except ValidationError:
            assert amount.amount == 0 or self.balance + amount < ZERO
            assert self.written() == before
            SEEN["correction refused"] += 1
            return
        assert amount.amount != 0 and self.balance + amount >= ZERO
        self.balance += amount

    @rule(declines=st.booleans())
    def replace_card_on_file(self, declines):
        """The admin saves another card; one ending 0002 is declined from then on."""
        card_on_file_replace(
            account=self.account,
            saved=SavedCard(
                reference=f"sandbox_pm_{uuid.uuid4().hex}",
                brand="Visa",
                last4="0002" if declines else "4242",
                exp_month=12,
                exp_year=2030,
            ),
            gateway_name=self.gateway.name,
        )

    @rule(hours=st.integers(1, 24 * 20))
    def time_passes(self, hours):
        self.clock.shift(timedelta(hours=hours))

    @precondition(lambda self: any(s.status != "suspended" for s in self.subscriptions))
    @rule(hours_after_end=st.integers(0, 24 * 10))
    def renew(self, hours_after_end):
        """The clock moves past the next period end and the renewal run starts."""
        ends = [self.fresh(i).current_period_end for i in range(2)]
        target = min(ends) + timedelta(hours=hours_after_end)
        if target > self.now():
            self.clock.move_to(target)
        orders_before = set(Order.objects.values_list("pk", flat=True))
        seats_before = {s.pk: s.seats for s in Subscription.objects.filter(account=self.account)}
        subscriptions_renew(at=self.now(), gateway=self.gateway)
        renewed = Order.objects.exclude(pk__in=orders_before)
        assert all(order.kind == Order.Kind.RENEWAL for order in renewed)
        for order in renewed:
            self.balance += order.credit_added - order.credit_applied
            SEEN["renewal order"] += 1
        for index in range(2):
            subscription = self.fresh(index)
            self.subscriptions[index] = subscription
            assert subscription.seats == seats_before[subscription.pk]  # a renewal keeps seats
            SEEN[f"after renewal: {subscription.status}"] += 1
            if subscription.status == Subscription.Status.ACTIVE:
                assert subscription.current_period_end > self.now()  # nothing due is left


@pytest.mark.django_db
def test_random_histories_of_seat_changes_renewals_credits_and_orders_keep_the_invariants():
    SEEN.clear()
    run_state_machine_as_test(
        BillingHistory,
        settings=settings(
            max_examples=25,
            stateful_step_count=15,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
    # The histories went through every path the invariants are about.
    for seen in (
        "1-line order paid",
        "1-line order free",
        "2-line order paid",
        "card declined",
        "refused: below assigned",
        "renewal order",
        "after renewal: past_due",
        "correction refused",
    ):
        assert SEEN[seen], (seen, SEEN)
