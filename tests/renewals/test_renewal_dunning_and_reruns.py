"""subscriptions_renew on PostgreSQL with the sandbox gateway: declines and dunning,
cancellation at period end, reruns, interrupted payments, dry runs and bad arguments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from checkout.models import Order, OrderLine
from payments.gateways import SandboxGateway
from payments.models import Payment, PaymentMethod
from renewals.run import renewal_order_number, renewal_token, subscriptions_renew
from renewals.steps import RENEWAL_CLAIM
from subscriptions.credit import credit_balance
from subscriptions.models import CreditLedgerEntry, Subscription
from tests.renewals.conftest import (
    DEC_1,
    CountingSandbox,
    decline_cards,
    eur,
    give_credit,
    renew,
    subscribe,
)

pytestmark = pytest.mark.django_db


# -- Declines: past due, retried on day 1, 3 and 7, then suspended -----------------------


def test_a_declined_card_makes_the_subscription_past_due_and_retries_then_suspends(acme):
    subscription = subscribe(acme)
    decline_cards(acme)

    summary = renew(DEC_1)
    assert (summary.renewed, summary.past_due, summary.suspended) == (0, 1, 0)
    assert not Order.objects.exists()
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PAST_DUE
    assert subscription.past_due_since == DEC_1
    assert subscription.renewal_attempts == 1
    assert subscription.next_renewal_attempt_at == DEC_1 + timedelta(days=1)
    assert subscription.current_period_end == DEC_1  # no new period without payment
    payment = Payment.objects.get()
    assert (payment.status, payment.failure_reason, payment.order) == (
        "failed",
        "card_declined",
        None,
    )

    # Not again before its retry is due.
    assert renew(DEC_1 + timedelta(hours=23)).past_due == 0
    assert Payment.objects.count() == 1

    for day, attempts, next_day in ((1, 2, 3), (3, 3, 7)):
        summary = renew(DEC_1 + timedelta(days=day))
        assert summary.past_due == 1
        subscription.refresh_from_db()
        assert subscription.status == Subscription.Status.PAST_DUE
        assert subscription.renewal_attempts == attempts
        assert subscription.past_due_since == DEC_1
        assert subscription.next_renewal_attempt_at == DEC_1 + timedelta(days=next_day)

    summary = renew(DEC_1 + timedelta(days=7))
    assert (summary.past_due, summary.suspended) == (0, 1)
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.SUSPENDED
    assert (subscription.renewal_attempts, subscription.next_renewal_attempt_at) == (4, None)
    assert list(Payment.objects.order_by("id").values_list("idempotency_key", flat=True)) == [
        f"{renewal_token(subscription.pk, DEC_1)}:{n}" for n in (1, 2, 3, 4)
    ]
    assert summary.line().startswith("Renewed 0 period(s), charged nothing; 0 failed → past due")

    # Suspended: no more charges.
    assert renew(DEC_1 + timedelta(days=30)).suspended == 0
    assert Payment.objects.count() == 4 and not Order.objects.exists()


def test_a_retry_that_succeeds_renews_and_clears_the_dunning(acme):
    subscription = subscribe(acme)
    decline_cards(acme)
    renew(DEC_1)
    PaymentMethod.objects.filter(account=acme).update(last4="4242")  # a new card on file

    summary = renew(DEC_1 + timedelta(days=1, hours=2))
    assert summary.renewed == 1
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE
    assert (
        subscription.past_due_since,
        subscription.renewal_attempts,
        subscription.next_renewal_attempt_at,
    ) == (None, 0, None)
    # The period paid is the one that was due, not one starting at the retry.
    assert (subscription.current_period_start, subscription.current_period_end) == (
        DEC_1,
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    order = Order.objects.get()
    assert order.effective_at == DEC_1
    assert list(Payment.objects.order_by("id").values_list("status", flat=True)) == [
        "failed",
        "succeeded",
    ]


def test_a_declined_renewal_gives_back_the_credit_it_held(acme):
    subscribe(acme)
    give_credit(acme, "100.00")
    decline_cards(acme)
    renew(DEC_1)
    assert credit_balance(acme) == eur("100.00")
    number = renewal_order_number(acme.subscriptions.get().pk, DEC_1)
    assert list(
        CreditLedgerEntry.objects.filter(reference=number)
        .order_by("id")
        .values_list("reason", "amount")
    ) == [("applied_to_order", Decimal("-100.00")), ("correction", Decimal("100.00"))]


def test_no_card_on_file_is_a_failed_charge(acme):
    subscription = subscribe(acme)
    PaymentMethod.objects.filter(account=acme).delete()
    renew(DEC_1)
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PAST_DUE
    assert Payment.objects.get().failure_reason == "payment_method_missing"


def test_a_card_that_asks_for_authentication_waits_for_the_customer_past_due(acme):
    """The whole path (email, page, one order) is in test_renewal_authentication.py."""
    subscription = subscribe(acme)
    PaymentMethod.objects.filter(account=acme).update(last4="3155")
    renew(DEC_1)
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PAST_DUE
    payment = Payment.objects.get()
    assert payment.status == "requires_action"
    assert payment.failure_reason == "authentication_required"


# -- Cancel at period end ------------------------------------------------------------------


def test_a_subscription_set_to_cancel_at_period_end_is_canceled_without_a_charge(acme):
    subscription = subscribe(acme, cancel_at_period_end=True)
    summary = renew(DEC_1)
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.CANCELED
    assert subscription.current_period_end == DEC_1
    assert not Order.objects.exists() and not Payment.objects.exists()
    assert (summary.canceled, summary.renewed) == (1, 0)
    assert renew(DEC_1 + timedelta(days=40)).canceled == 0  # once


# -- Reruns and interrupted runs -----------------------------------------------------------


def test_a_rerun_renews_nothing_twice(acme):
    subscribe(acme)
    subscribe(acme, seats=3)
    assert renew(DEC_1).renewed == 2
    again = renew(DEC_1)
    assert (again.renewed, again.past_due, again.canceled) == (0, 0, 0)
    assert (Order.objects.count(), Payment.objects.count(), OrderLine.objects.count()) == (2, 2, 2)


def _interrupted_payment(subscription, *, amount="499.80", claimed_until=None, **fields):
    """What a run that died after committing its claim leaves behind."""
    token = renewal_token(subscription.pk, subscription.current_period_end)
    return Payment.objects.create(
        account=subscription.account,
        payment_method=PaymentMethod.objects.get(account=subscription.account),
        checkout_token=token,
        idempotency_key=f"{token}:1",
        gateway="sandbox",
        amount=eur(amount),
        quoted_at=DEC_1,
        fingerprint="",
        claimed_until=claimed_until,
        created_at=DEC_1,
        **fields,
    )


def test_a_payment_whose_run_died_is_sent_again_as_the_same_payment(acme):
    subscription = subscribe(acme)
    payment = _interrupted_payment(subscription, claimed_until=DEC_1 + timedelta(minutes=1))
    gateway = CountingSandbox()

    renew(DEC_1 + timedelta(hours=2), gateway=gateway)

    assert gateway.charged == [payment.idempotency_key]  # same key: the gateway's first answer
    assert Payment.objects.get() == payment
    payment.refresh_from_db()
    assert (payment.status, payment.order) == ("succeeded", Order.objects.get())


def test_an_attempt_someone_else_canceled_is_not_charged_as_a_new_payment(acme):
    """Canceled without a gateway reference, it may have taken money (a lost answer)."""
    subscription = subscribe(acme)
    payment = _interrupted_payment(subscription, status=Payment.Status.CANCELED)
    gateway = CountingSandbox()
    renew(DEC_1 + timedelta(hours=2), gateway=gateway)
    assert gateway.charged == [payment.idempotency_key]
    assert Payment.objects.count() == 1 and Order.objects.count() == 1


def test_a_payment_another_run_is_charging_is_left_to_it(acme):
    subscription = subscribe(acme)
    at = DEC_1 + timedelta(minutes=5)
    _interrupted_payment(subscription, claimed_until=at + RENEWAL_CLAIM)
    gateway = CountingSandbox()
    summary = renew(at, gateway=gateway)
    assert gateway.charged == [] and summary.renewed == 0
    assert not Order.objects.exists()


def test_an_unanswered_charge_is_left_open_for_the_next_run(acme):
    from payments.gateways import GatewayUnavailable

    class Silent(SandboxGateway):
        def charge_off_session(self, *, payment):
            raise GatewayUnavailable("timed out")

    subscription = subscribe(acme)
    summary = renew(DEC_1, gateway=Silent())
    assert (summary.unavailable, summary.renewed, summary.failed) == (1, 0, True)
    payment = Payment.objects.get()
    assert (payment.status, payment.claimed_until, payment.reference) == ("processing", None, "")
    subscription.refresh_from_db()
    assert (subscription.status, subscription.current_period_end) == ("active", DEC_1)

    gateway = CountingSandbox()
    assert renew(DEC_1 + timedelta(minutes=15), gateway=gateway).renewed == 1
    assert gateway.charged == [payment.idempotency_key]
    assert Payment.objects.count() == 1


# -- Dry run ---------------------------------------------------------------------------------


def test_a_dry_run_writes_nothing_and_says_what_it_would_do(acme):
    subscription = subscribe(acme)
    canceling = subscribe(acme, seats=2, cancel_at_period_end=True)
    give_credit(acme, "100.00")
    outcomes = []
    summary = renew(DEC_1, dry_run=True, progress=outcomes.extend)
    assert not Order.objects.exists() and not Payment.objects.exists()
    assert CreditLedgerEntry.objects.count() == 1
    subscription.refresh_from_db()
    canceling.refresh_from_db()
    assert (subscription.current_period_end, subscription.version) == (DEC_1, 1)
    assert canceling.status == Subscription.Status.ACTIVE
    assert (summary.renewed, summary.canceled, summary.charged) == (
        1,
        1,
        {"EUR": Decimal("399.80")},
    )
    assert summary.line() == (
        "Dry run, nothing written: would renew 1 period(s), charging EUR 399.80; "
        "would cancel 1; 0 error(s)."
    )
    described = [outcome.describe(dry_run=True) for outcome in outcomes]
    assert any(
        "would renew subscription" in text and "EUR 399.80 due after EUR 100.00 credit" in text
        for text in described
    )
    assert any(text.startswith("would cancel subscription") for text in described)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="aware"):
        subscriptions_renew(at=datetime(2026, 12, 1))
    with pytest.raises(ValueError, match="batch_size"):
        subscriptions_renew(at=DEC_1, batch_size=0)
