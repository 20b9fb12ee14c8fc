"""A renewal run fanned out in shards by account: each shard its own accounts, together all."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from checkout.models import Order, OrderLine
from payments.models import Payment
from renewals.run import subscriptions_renew
from subscriptions.models import Subscription
from subscriptions.services import tax_rates_ensure_eu_standard
from tests.renewals.conftest import DEC_1
from tests.renewals.test_renewals_at_scale import due_subscriptions


@pytest.mark.django_db
def test_two_shards_renew_their_own_accounts_and_together_every_subscription():
    subscriptions = due_subscriptions(accounts=6, per_account=2)
    with time_machine.travel(DEC_1 + timedelta(minutes=1), tick=False):
        first = subscriptions_renew(at=DEC_1, shard=(0, 2))
        renewed_first = set(OrderLine.objects.values_list("subscription__account_id", flat=True))
        second = subscriptions_renew(at=DEC_1, shard=(1, 2))

    assert first.renewed == second.renewed == 6  # three accounts each, two subscriptions each
    assert renewed_first == {s.account_id for s in subscriptions if s.account_id % 2 == 0}
    assert Order.objects.count() == 12 == Payment.objects.filter(status="succeeded").count()
    assert Subscription.objects.filter(current_period_start=DEC_1).count() == 12


def test_shards_running_at_once_never_renew_a_subscription_twice(transactional_db):
    tax_rates_ensure_eu_standard()  # a transactional test starts from empty tables
    subscriptions = due_subscriptions(accounts=10, per_account=3)
    start, summaries, errors = threading.Barrier(2), [], []

    def shard(index):
        try:
            start.wait()
            summaries.append(subscriptions_renew(at=DEC_1, batch_size=4, shard=(index, 2)))
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    with time_machine.travel(DEC_1 + timedelta(minutes=1), tick=True):
        threads = [threading.Thread(target=shard, args=(index,)) for index in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    assert sum(summary.renewed for summary in summaries) == 30
    assert Order.objects.count() == 30 == Payment.objects.count()
    assert sorted(OrderLine.objects.values_list("subscription_id", flat=True)) == sorted(
        s.pk for s in subscriptions
    )


@pytest.mark.parametrize("shard", [(2, 2), (-1, 2), (0, 0), (0, True), "0/2", (1,)])
def test_a_shard_that_does_not_exist_is_refused(shard):
    with pytest.raises(ValueError, match="shard"):
        subscriptions_renew(at=DEC_1, shard=shard)


@pytest.mark.django_db
def test_the_command_fans_out_and_prints_every_shard_together(settings):
    # No broker here: the shard tasks run in this process, one after the other.
    assert settings.CELERY_TASK_ALWAYS_EAGER
    due_subscriptions(accounts=5, per_account=2)
    out = io.StringIO()
    with time_machine.travel(DEC_1 + timedelta(hours=1), tick=False):
        call_command("renew_subscriptions", "--fan-out", "3", stdout=out)
    assert out.getvalue().startswith("3 shards: Renewed 10 period(s), charged EUR ")
    assert Order.objects.count() == 10


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--fan-out", "0"], "--fan-out must be between 1 and 64."),
        (["--fan-out", "65"], "--fan-out must be between 1 and 64."),
        (["--fan-out", "2", "--dry-run"], "--dry-run only reads"),
    ],
)
def test_a_fan_out_it_cannot_do_is_refused_and_nothing_is_renewed(arguments, message):
    due_subscriptions(accounts=2)
    with (
        time_machine.travel(DEC_1 + timedelta(hours=1), tick=False),
        pytest.raises(CommandError, match=message),
    ):
        call_command("renew_subscriptions", *arguments, stdout=io.StringIO())
    assert not Order.objects.exists()
