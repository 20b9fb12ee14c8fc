"""`manage.py expire_trials` and its beat task: ended trials expire once, even run twice at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError
from django.db import connection

from billing_portal import celery_app
from subscriptions.models import AuditEntry, Subscription
from subscriptions.tasks import expire_trials
from subscriptions.trials import trials_expire
from tests.factories import AccountFactory, SubscriptionFactory
from tests.ops.conftest import AT, TerminalOutput, run

OCT_27 = datetime(2026, 10, 27, 12, tzinfo=UTC)


def trial(account=None, *, trial_end: datetime, product: str | None = None) -> Subscription:
    extra = {"plan__product__name": product} if product else {}
    return SubscriptionFactory(
        account=account or AccountFactory(),
        status=Subscription.Status.TRIAL,
        seats=5,
        billing_anchor=trial_end - timedelta(days=30),
        trial_end=trial_end,
        **extra,
    )


@pytest.fixture
def trials(acme, remote_support):
    """Acme's trial ended yesterday, one ends exactly now, one runs until next week."""
    return {
        "ended": trial(acme, trial_end=AT - timedelta(days=1), product="Remote Access"),
        "ends_now": trial(trial_end=AT),
        "running": trial(acme, trial_end=AT + timedelta(days=7), product="Meeting Rooms"),
    }


def statuses() -> dict[int, str]:
    return dict(Subscription.objects.values_list("pk", "status"))


@pytest.mark.django_db
def test_ended_trials_expire_and_nothing_else_changes(frozen_now, trials, remote_support):
    out, err = run("expire_trials")
    ended, ends_now, running = trials["ended"], trials["ends_now"], trials["running"]
    assert statuses() == {
        ended.pk: "expired",
        ends_now.pk: "expired",  # a trial is [start, trial_end): at its end it is over
        running.pk: "trial",
        remote_support.pk: "active",
    }
    assert out.splitlines() == [
        f"expired subscription {ended.pk}: Acme GmbH, Remote Access "
        "(trial ended 2026-11-25T12:00:00Z)",
        f"expired subscription {ends_now.pk}: {ends_now.account.name}, "
        f"{ends_now.plan.product.name} (trial ended 2026-11-26T12:00:00Z)",
        "expire_trials: 2 trials ended by 2026-11-26T12:00:00Z expired.",
    ]
    assert err == ""  # no progress bar when stdout is not a terminal
    ended.refresh_from_db()
    assert (ended.version, ended.updated_at) == (2, AT)
    entry = AuditEntry.objects.get(account=ended.account)
    assert (entry.actor, entry.action, entry.before, entry.after, entry.at) == (
        None,
        "trial_expired",
        {"status": "trial", "trial_end": "2026-11-25T12:00:00+00:00"},
        {"status": "expired", "trial_end": "2026-11-25T12:00:00+00:00"},
        AT,
    )
    assert entry.target == f"subscription {ended.pk}"
    assert entry.reason == "The free trial ended at 2026-11-25T12:00:00+00:00."


@pytest.mark.django_db
def test_the_billing_center_then_offers_subscribe_now(frozen_now, client, admin, trials):
    client.force_login(admin)
    assert "Subscribe now" not in client.get("/").content.decode()
    run("expire_trials")
    page = client.get("/").content.decode()
    assert "Subscribe now" in page
    assert "Your free trial has ended." in page


@pytest.mark.django_db
def test_a_rerun_changes_nothing(frozen_now, trials):
    run("expire_trials")
    expired, audited = statuses(), AuditEntry.objects.count()
    out, _ = run("expire_trials")
    assert out.splitlines() == ["expire_trials: 0 trials ended by 2026-11-26T12:00:00Z expired."]
    assert (statuses(), AuditEntry.objects.count()) == (expired, audited)


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label in {"subscriptions", "payments", "checkout"}
    }


@pytest.mark.django_db
def test_dry_run_lists_and_writes_nothing(frozen_now, trials):
    before, counts = statuses(), row_counts()
    out, _ = run("expire_trials", dry_run=True)
    assert out.splitlines()[0].startswith(f"would expire subscription {trials['ended'].pk}: ")
    assert out.splitlines()[-1] == (
        "expire_trials: 2 trials ended by 2026-11-26T12:00:00Z would expire; "
        "dry run: nothing written."
    )
    assert (statuses(), row_counts()) == (before, counts)


@pytest.mark.django_db
def test_a_later_instant_is_only_for_a_dry_run(frozen_now, trials):
    next_week = "2026-12-03T12:00:00Z"
    out, _ = run("expire_trials", at=next_week, dry_run=True)
    assert "3 trials ended by 2026-12-03T12:00:00Z would expire" in out
    before = statuses()
    with pytest.raises(CommandError, match=r"--at 2026-12-03T12:00:00Z is in the future"):
        run("expire_trials", at=next_week)
    assert statuses() == before


@pytest.mark.django_db
def test_an_earlier_instant_expires_only_what_had_ended_then(frozen_now, trials):
    out, _ = run("expire_trials", "--at", "2026-11-25T12:00:00Z")
    assert statuses()[trials["ended"].pk] == "expired"
    assert statuses()[trials["ends_now"].pk] == "trial"
    assert out.splitlines()[-1].startswith("expire_trials: 1 trial ended by")


@pytest.mark.django_db
def test_a_bad_instant_is_refused(db):
    with pytest.raises(CommandError, match=r"--at 'next tuesday' is not an ISO 8601 date"):
        run("expire_trials", at="next tuesday")


@pytest.mark.django_db
def test_a_terminal_gets_a_progress_counter_on_stderr(frozen_now, trials):
    _, err = run("expire_trials", stdout=TerminalOutput())
    assert "\rexpire_trials: 2/2" in err


@pytest.mark.django_db
def test_the_hourly_beat_task_expires_through_the_same_service(frozen_now, trials):
    schedule = settings.CELERY_BEAT_SCHEDULE["expire-trials"]
    assert schedule["task"] == "subscriptions.tasks.expire_trials"
    assert schedule["schedule"] == 3600
    assert schedule["task"] in celery_app.tasks
    # `make test` runs tasks in-process (no broker): the same call a worker makes.
    assert expire_trials.delay().get() == {"expired": 2}
    assert expire_trials.delay().get() == {"expired": 0}
    assert statuses()[trials["ended"].pk] == "expired"


def test_two_runs_at_once_expire_each_trial_once(transactional_db):
    """Two threads, two database connections, small batches: every trial exactly once."""
    ended = [trial(trial_end=OCT_27 + timedelta(minutes=n)) for n in range(40)]
    running = trial(trial_end=AT + timedelta(days=1))
    results: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def expire():
        try:
            start.wait()
            expired = trials_expire(at=AT, batch_size=3)
            results.append([item.subscription_id for item in expired])
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    with time_machine.travel(AT, tick=False):
        threads = [threading.Thread(target=expire) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    expired_ids = [pk for result in results for pk in result]
    assert sorted(expired_ids) == sorted(sub.pk for sub in ended)  # each once, none twice
    assert Subscription.objects.filter(status="expired").count() == 40
    assert set(Subscription.objects.filter(status="expired").values_list("version", flat=True)) == {
        2
    }
    assert AuditEntry.objects.filter(action="trial_expired").count() == 40
    running.refresh_from_db()
    assert running.status == "trial"
    assert trials_expire(at=AT) == []
