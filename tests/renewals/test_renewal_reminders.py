"""Yearly plans: a reminder 30 days before the renewal, with the amount the run will
charge, once per subscription and period; none for monthly plans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from renewals.models import RenewalReminder
from renewals.reminders import renewal_reminder_deliver, renewal_reminders_create
from renewals.tasks import send_renewal_reminder, send_renewal_reminders_task
from tests.factories import MembershipFactory, PaymentMethodFactory
from tests.renewals.conftest import eur, give_credit, subscribe

pytestmark = pytest.mark.django_db

JAN_1_2026 = datetime(2026, 1, 1, tzinfo=UTC)
RENEWS = datetime(2027, 1, 1, tzinfo=UTC)  # a yearly period from Jan 1, 2026
AHEAD = RENEWS - timedelta(days=30)  # Dec 2, 2026


def yearly(account, **fields):
    return subscribe(account, anchor=JAN_1_2026, interval="year", price="420.00", seats=2, **fields)


def remind_at(at, capture):
    with time_machine.travel(at, tick=False), capture(execute=True):
        return renewal_reminders_create(at=at)


def test_a_yearly_renewal_is_reminded_30_days_ahead_once_with_its_amount(
    acme, mailoutbox, django_capture_on_commit_callbacks
):
    MembershipFactory(account=acme, user__email="bernd@acme.example", user__language="de")
    subscription = yearly(acme, plan__product__name="Meeting Rooms")
    give_credit(acme, "100.00")

    assert remind_at(AHEAD - timedelta(hours=1), django_capture_on_commit_callbacks) == 0
    assert mailoutbox == []
    assert remind_at(AHEAD, django_capture_on_commit_callbacks) == 1

    # 2 × €420.00 = €840.00, 19 % VAT €159.60: €999.60, €100.00 of it from the credit.
    reminder = RenewalReminder.objects.get()
    assert (reminder.subscription, reminder.period_end) == (subscription, RENEWS)
    assert reminder.amount == eur("899.60") and reminder.sent_at == AHEAD
    english = next(m for m in mailoutbox if m.to == ["anna@acme.example"])
    german = next(m for m in mailoutbox if m.to == ["bernd@acme.example"])
    assert english.subject == "Meeting Rooms renews on Jan. 1, 2027"
    assert (
        "The yearly subscription to Meeting Rooms for Acme GmbH renews on Jan. 1, 2027. "
        "The card on file will be charged €899.60." in english.body
    )
    assert (
        "To change the number of licenses or cancel, go to the Billing Center before that "
        f"date: {settings.PORTAL_BASE_URL}/" in english.body
    )
    assert german.subject == "Meeting Rooms verlängert sich am 1. Januar 2027"
    assert "Die hinterlegte Karte wird mit 899,60\xa0€ belastet." in german.body
    assert "Um die Anzahl der Lizenzen zu ändern oder zu kündigen" in german.body

    # Not twice: a later run, the beat task, a retried task.
    assert remind_at(AHEAD + timedelta(days=5), django_capture_on_commit_callbacks) == 0
    with time_machine.travel(AHEAD + timedelta(days=6), tick=False):
        assert send_renewal_reminders_task.apply().get() == 0
        assert send_renewal_reminder.apply(args=[reminder.pk]).get() == "already sent"
    assert len(mailoutbox) == 2


def test_monthly_canceling_and_corporate_subscriptions_are_not_reminded(
    acme, mailoutbox, django_capture_on_commit_callbacks
):
    subscribe(acme, anchor=datetime(2026, 12, 1, tzinfo=UTC))  # monthly, renews Jan 1
    yearly(acme, cancel_at_period_end=True)
    corporate = MembershipFactory(account__billing_channel="corporate").account
    yearly(corporate)
    assert remind_at(AHEAD, django_capture_on_commit_callbacks) == 0
    assert mailoutbox == [] and not RenewalReminder.objects.exists()


def test_the_next_years_renewal_is_reminded_again(acme, django_capture_on_commit_callbacks):
    subscription = yearly(acme)
    remind_at(AHEAD, django_capture_on_commit_callbacks)
    subscription.current_period_start = RENEWS
    subscription.current_period_end = RENEWS.replace(year=2028)
    subscription.save()
    remind_at(AHEAD.replace(year=2027), django_capture_on_commit_callbacks)
    assert list(RenewalReminder.objects.order_by("pk").values_list("period_end", flat=True)) == [
        RENEWS,
        RENEWS.replace(year=2028),
    ]


def test_a_subscription_canceled_before_the_email_went_is_not_reminded(acme, mailoutbox):
    subscription = yearly(acme)
    with time_machine.travel(AHEAD, tick=False):
        renewal_reminders_create(at=AHEAD)  # the task after commit never ran
    subscription.cancel_at_period_end = True
    subscription.save()
    assert renewal_reminder_deliver(reminder_id=RenewalReminder.objects.get().pk) == (
        "no longer due"
    )
    assert mailoutbox == []


def test_reminders_cost_the_same_queries_whatever_their_number(
    django_capture_on_commit_callbacks,
):
    def queries(count: int) -> int:
        for _ in range(count):
            account = MembershipFactory().account
            PaymentMethodFactory(account=account)
            yearly(account)
        with (
            time_machine.travel(AHEAD, tick=False),
            CaptureQueriesContext(connection) as captured,
        ):
            assert renewal_reminders_create(at=AHEAD, batch_size=100) == count
        return len(captured)

    three = queries(3)
    RenewalReminder.objects.update(sent_at=AHEAD)
    assert queries(12) == three


def test_the_command_sends_them_and_refuses_the_future(acme, mailoutbox):
    yearly(acme)
    out = StringIO()
    with time_machine.travel(AHEAD, tick=False):
        call_command("send_renewal_reminders", "--dry-run", stdout=out)
        assert "1 renewal reminder(s) would be sent" in out.getvalue()
        assert not RenewalReminder.objects.exists()
        with pytest.raises(CommandError, match="in the future"):
            call_command("send_renewal_reminders", "--at", "2027-01-01")
        call_command("send_renewal_reminders", stdout=out)
    assert "1 renewal reminder(s) queued" in out.getvalue()
    assert RenewalReminder.objects.count() == 1


def test_the_beat_runs_it_hourly():
    from billing_portal.celery import app as celery_app

    entry = celery_app.conf.beat_schedule["send-renewal-reminders"]
    assert entry["task"] == "renewals.tasks.send_renewal_reminders_task"
    assert entry["schedule"] == 3600.0
    sweep = celery_app.conf.beat_schedule["dispatch-renewal-notices"]
    assert sweep["task"] == "renewals.tasks.dispatch_renewal_notices"
