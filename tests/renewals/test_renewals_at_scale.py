"""Two runs at once renew each subscription once; every batch costs the same queries."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from checkout.gateways import SandboxGateway
from checkout.models import Order, OrderLine, Payment
from checkout.renewals import subscriptions_renew
from subscriptions.models import Subscription
from subscriptions.services import tax_rates_ensure_eu_standard
from tests.factories import MembershipFactory, PaymentMethodFactory
from tests.renewals.conftest import DEC_1, give_credit, subscribe


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
    # The first batch of a run also loads the tax rates, once per run.
    assert fifty[0] == ten[0]
    assert set(fifty[1:]) == {ten[0] - 1}
    assert ten[0] <= 17  # lock, load, write: a handful, not one per subscription
