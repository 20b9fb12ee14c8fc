"""Two runs at once, or one overlapping its batches, renew each period once; fixed queries."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from moneyed import Money

from checkout.models import Order, OrderLine
from payments.gateways import SandboxGateway
from payments.models import Payment, PaymentMethod
from renewals import steps as renewal_steps
from renewals.run import subscriptions_due, subscriptions_renew
from subscriptions import clock
from subscriptions.credit import credit_balance
from subscriptions.models import Subscription
from subscriptions.services import tax_rates_ensure_eu_standard
from tests.factories import MembershipFactory, PaymentMethodFactory
from tests.renewals.conftest import DEC_1, NOV_1, give_credit, subscribe

OCT_1 = NOV_1.replace(month=10)


class SlowSandbox(SandboxGateway):
    """A gateway that takes a while to answer, so that two runs overlap."""

    def charge_off_session(self, *, payment):
        time.sleep(0.02)
        return super().charge_off_session(payment=payment)


def due_subscriptions(accounts: int, per_account: int = 1) -> list[Subscription]:
    subscriptions = []
    for _ in range(accounts):
        account = MembershipFactory().account
        PaymentMethodFactory(account=account)
        subscriptions += [subscribe(account, seats=seats) for seats in range(1, per_account + 1)]
    return subscriptions


def test_two_runs_at_once_renew_each_subscription_exactly_once(transactional_db):
    tax_rates_ensure_eu_standard()  # a transactional test starts from empty tables
    subscriptions = due_subscriptions(accounts=15, per_account=2)
    give_credit(subscriptions[0].account, "10.00")
    summaries, errors = [], []
    start = threading.Barrier(2)

    def run():
        try:
            start.wait()
            summaries.append(subscriptions_renew(at=DEC_1, batch_size=4, gateway=SlowSandbox()))
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()  # each thread had a database connection of its own

    with time_machine.travel(DEC_1 + timedelta(minutes=1), tick=True):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    assert sorted(s.renewed for s in summaries) != [0, 30]  # both runs did part of the work
    # Never twice: each renewal the two runs made is its own subscription's, paid once.
    together = sum(s.renewed for s in summaries)
    assert Order.objects.count() == together == Payment.objects.count()
    assert OrderLine.objects.values("subscription_id").distinct().count() == together
    # A subscription hidden by the other run's lock is left for the next run, not lost.
    with time_machine.travel(DEC_1 + timedelta(minutes=2), tick=True):
        later = subscriptions_renew(at=DEC_1, batch_size=4, gateway=SlowSandbox())
    assert together + later.renewed == 30
    assert Order.objects.count() == 30 and Payment.objects.count() == 30
    renewed = list(OrderLine.objects.values_list("subscription_id", flat=True))
    assert sorted(renewed) == sorted(s.pk for s in subscriptions)
    assert set(Payment.objects.values_list("status", flat=True)) == {"succeeded"}
    assert Subscription.objects.filter(current_period_start=DEC_1, version=2).count() == 30
    # The credit was used once, by one renewal.
    assert Order.objects.filter(credit_applied__gt=0).count() == 1


class ThreadNotingSandbox(SandboxGateway):
    """The sandbox, noting which thread charged each payment."""

    def __init__(self) -> None:
        self.threads: set[str] = set()

    def charge_off_session(self, *, payment):
        self.threads.add(threading.current_thread().name)
        return super().charge_off_session(payment=payment)


def test_an_overlapped_run_renews_as_a_batch_by_batch_run_would(transactional_db):
    """Claiming a batch while the one before is charged and recorded: nothing skipped or doubled."""
    tax_rates_ensure_eu_standard()  # a transactional test starts from empty tables
    subscriptions = due_subscriptions(accounts=10, per_account=3)  # batches of 4 split accounts
    first, declined, behind = (subscriptions[0].account, subscriptions[3].account, subscriptions[6])
    give_credit(first, "50.00")
    PaymentMethod.objects.filter(account=declined).update(last4="0002")
    Subscription.objects.filter(pk=behind.pk).update(
        billing_anchor=OCT_1, current_period_start=OCT_1, current_period_end=NOV_1
    )
    gateway, batches = ThreadNotingSandbox(), []

    with time_machine.travel(DEC_1 + timedelta(minutes=1), tick=True):
        summary = subscriptions_renew(
            at=DEC_1,
            batch_size=4,
            gateway=gateway,
            overlap=True,
            progress=lambda outcomes: batches.append(len(outcomes)),
        )

    assert any(name.startswith("renewals") for name in gateway.threads)  # charged alongside
    # 30 subscriptions, one of them two periods behind; the declined account's three
    # are past due; nothing was hidden by the run's own locks or left for later.
    counts = (summary.renewed, summary.past_due, summary.unavailable, summary.errors)
    assert counts == (28, 3, 0, 0)
    assert not subscriptions_due(at=DEC_1).exists()
    # In one pass: 8 batches, then the one behind again; none hidden by a lock of the
    # run's own other thread (and left to a second pass).
    assert batches == [4] * 7 + [2, 1]
    assert Order.objects.count() == 28
    assert OrderLine.objects.filter(subscription=behind).count() == 2
    per_subscription = OrderLine.objects.values("subscription_id", "new_period_start")
    assert per_subscription.distinct().count() == 28  # no period renewed twice
    renewed = Subscription.objects.filter(current_period_start=DEC_1, status="active")
    assert renewed.count() == 27
    assert Subscription.objects.filter(account=declined, status="past_due").count() == 3
    # Each paid renewal is one succeeded payment (less any the credit paid in full).
    paid = Payment.objects.filter(status="succeeded")
    assert paid.count() == Order.objects.filter(amount_due__gt=0).count()
    assert paid.filter(order__isnull=True).count() == 0
    # The credit was taken once, under the account lock, and not more than there was.
    assert credit_balance(first) >= Money(0, first.currency)
    assert Order.objects.filter(account=first, credit_applied__gt=0).count() >= 1


def test_a_run_that_stops_leaves_no_claim_held_and_the_next_renews_the_rest(transactional_db):
    """The caller's progress fails after the first batch, while the next is claimed."""
    tax_rates_ensure_eu_standard()
    due_subscriptions(accounts=12)

    def progress(outcomes):
        raise BrokenPipeError("the terminal went away")

    with time_machine.travel(DEC_1 + timedelta(minutes=1), tick=True):
        with pytest.raises(BrokenPipeError):
            subscriptions_renew(at=DEC_1, batch_size=4, overlap=True, progress=progress)
        assert Order.objects.count() == 4  # the first batch, recorded
        # The batch claimed meanwhile was never sent: released, not held for an hour.
        assert not Payment.objects.filter(claimed_until__isnull=False).exists()
        again = subscriptions_renew(at=DEC_1, batch_size=4, overlap=True)

    assert again.renewed == 8 and not again.failed
    assert Order.objects.count() == 12 == Payment.objects.count()  # its payments, sent once
    assert set(Payment.objects.values_list("status", flat=True)) == {"succeeded"}


class SlowNotingSandbox(SandboxGateway):
    """Half a second a charge; notes when each payment was sent and until when it was
    claimed."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def charge_off_session(self, *, payment):
        self.sent.append((clock.now(), payment.claimed_until))
        time.sleep(0.5)
        return super().charge_off_session(payment=payment)


def test_an_overlapped_batch_is_never_charged_after_its_claim_ran_out(
    transactional_db, monkeypatch
):
    """Claims of 2 s, charging stops half a second before they run out. The second batch,
    claimed while the first was charged (1.5 s), has little time left when its turn
    comes: what it cannot charge in time is left for a later run."""
    monkeypatch.setattr(renewal_steps, "RENEWAL_CLAIM", timedelta(seconds=2))
    monkeypatch.setattr(renewal_steps, "CLAIM_MARGIN", timedelta(seconds=0.5))
    tax_rates_ensure_eu_standard()
    due_subscriptions(accounts=6)
    gateway = SlowNotingSandbox()

    with time_machine.travel(DEC_1 + timedelta(minutes=1), tick=True):
        summary = subscriptions_renew(at=DEC_1, batch_size=3, gateway=gateway, overlap=True)

    assert gateway.sent and summary.unavailable > 0
    assert all(sent_at < claimed_until for sent_at, claimed_until in gateway.sent)
    assert summary.renewed == len(gateway.sent)


def test_a_write_that_only_refers_to_an_account_does_not_hide_it_from_a_run(transactional_db):
    """A batch being recorded (its orders refer to the account) while the next is claimed."""
    tax_rates_ensure_eu_standard()
    subscription = due_subscriptions(accounts=1)[0]
    account = subscription.account
    written, release = threading.Event(), threading.Event()

    def refer_to_the_account_and_wait():
        try:
            with transaction.atomic():
                # Django's foreign keys are checked at commit; checked now, the check's
                # KEY SHARE lock on the account is held while the run claims.
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                give_credit(account, "1.00")
                written.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    other = threading.Thread(target=refer_to_the_account_and_wait)
    other.start()
    try:
        assert written.wait(timeout=10)
        with time_machine.travel(DEC_1 + timedelta(minutes=1), tick=True):
            summary = subscriptions_renew(at=DEC_1, batch_size=4, overlap=False)
    finally:
        release.set()
        other.join()

    assert summary.renewed == 1
    assert OrderLine.objects.filter(subscription=subscription).count() == 1


def queries_per_batch(subscription_count: int, batch_size: int) -> list[int]:
    due_subscriptions(accounts=subscription_count)
    counts = []
    with CaptureQueriesContext(connection) as captured, time_machine.travel(DEC_1, tick=False):
        summary = subscriptions_renew(
            at=DEC_1,
            batch_size=batch_size,
            progress=lambda outcomes: counts.append(len(captured)),
        )
    assert summary.renewed == subscription_count
    return [later - earlier for earlier, later in zip([0, *counts], counts, strict=False)]


@pytest.mark.django_db
def test_each_batch_costs_the_same_number_of_queries_whatever_is_due():
    """10 due subscriptions in one batch of 10, then 50 in five: the same queries per batch."""
    ten = queries_per_batch(10, batch_size=10)
    Subscription.objects.update(status=Subscription.Status.CANCELED)  # out of the way
    fifty = queries_per_batch(50, batch_size=10)

    assert len(ten) == 1 and len(fifty) == 5
    # Counted at each batch's end, which is when the next batch has been claimed: the
    # middle batches are one record and one claim each, all the same.
    per_batch = fifty[1]
    assert fifty[1:4] == [per_batch] * 3
    # Forty more subscriptions cost four more batches, nothing per subscription (the
    # tax rates, loaded once per run, and the last, empty claim are in both runs).
    assert sum(fifty) - sum(ten) == 4 * per_batch
    # lock, load, write (and plan them for their values): a handful, not one per subscription;
    # one INSERT for the account's activity, and four for the invoices (create the year's
    # counter if missing, lock it, insert the invoices, move the counter on)
    assert per_batch <= 23


@pytest.mark.django_db
def test_a_full_batch_costs_the_same_queries_as_a_half_full_one():
    """Nothing is fetched per subscription: not its account, plan or card on charging."""
    five = queries_per_batch(5, batch_size=10)
    Subscription.objects.update(status=Subscription.Status.CANCELED)  # out of the way
    ten = queries_per_batch(10, batch_size=10)

    assert len(five) == len(ten) == 1
    assert five == ten
