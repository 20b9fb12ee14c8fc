"""The sweeper and `manage.py dispatch_pending_emails`: what stayed pending is sent, once."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from checkout.models import Order
from checkout.tasks import pending_emails_dispatch
from tests.checkout.conftest import AT
from tests.delivery.harness import manage, order_status, portal_environment
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

# The orders below were placed at the review's instant (AT); the commands run on the real
# clock, so they are given no grace period. The grace period itself is tested in-process.
NOW = ("--older-than", "0")


def summary(result: subprocess.CompletedProcess) -> str:
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def pending_order(broker_down, smtp_sink, place_order) -> Order:
    """An order placed while the broker was down: its email was never queued."""
    order = place_order()
    assert order_status(order) == Order.EmailStatus.PENDING
    return order


def test_the_sweeper_leaves_fresh_orders_to_the_normal_path(pending_order, smtp_sink):
    out = StringIO()
    with time_machine.travel(AT + timedelta(seconds=110), tick=False):
        assert pending_emails_dispatch().due == []
        call_command("dispatch_pending_emails", stdout=out)
    assert out.getvalue().strip() == "0 pending confirmation email(s): 0 sent, 0 skipped, 0 failed."
    assert smtp_sink.inbox.received() == []

    with time_machine.travel(AT + timedelta(minutes=3), tick=False):
        call_command("dispatch_pending_emails", stdout=out)
    assert f"sent {pending_order.number}" in out.getvalue()
    assert smtp_sink.inbox.exactly_one()["Subject"] == (
        f"Your order {pending_order.number} is confirmed"
    )
    assert order_status(pending_order) == Order.EmailStatus.SENT


def test_help_names_the_options(smtp_sink):
    result = manage("dispatch_pending_emails", "--help", smtp_sink=smtp_sink)
    assert result.returncode == 0, result.stderr
    for option in ("--dry-run", "--older-than", "--limit"):
        assert option in result.stdout
    assert "pending" in result.stdout


def test_a_dry_run_lists_what_it_would_send_and_sends_and_writes_nothing(pending_order, smtp_sink):
    before = Order.objects.values().get(pk=pending_order.pk)
    result = manage("dispatch_pending_emails", "--dry-run", *NOW, smtp_sink=smtp_sink)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"would send {pending_order.number} (placed 2026-11-26 12:00 UTC) to anna@acme.example",
        "1 pending confirmation email(s) would be sent; dry run: nothing sent, nothing written.",
    ]
    assert Order.objects.values().get(pk=pending_order.pk) == before
    assert smtp_sink.inbox.received() == []


def test_the_command_sends_a_pending_email_once(pending_order, smtp_sink):
    first = manage("dispatch_pending_emails", *NOW, smtp_sink=smtp_sink)
    assert first.returncode == 0, first.stderr
    assert f"sent {pending_order.number}" in first.stdout
    assert summary(first) == "1 pending confirmation email(s): 1 sent, 0 skipped, 0 failed."
    assert smtp_sink.inbox.exactly_one()["To"] == "anna@acme.example"
    assert order_status(pending_order) == Order.EmailStatus.SENT

    again = manage("dispatch_pending_emails", *NOW, smtp_sink=smtp_sink)
    assert summary(again) == "0 pending confirmation email(s): 0 sent, 0 skipped, 0 failed."
    assert len(smtp_sink.inbox.received()) == 1


def test_two_runs_at_once_send_once(pending_order, smtp_sink):
    inbox = smtp_sink.inbox
    inbox.hold_next(accept=True)  # the first run is mid-send, the order's row locked
    first = subprocess.Popen(
        [sys.executable, "manage.py", "dispatch_pending_emails", *NOW],
        cwd=ROOT,
        env=portal_environment(smtp_sink),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert inbox.held.wait(30), "the first run never reached the SMTP server"
        second = manage("dispatch_pending_emails", *NOW, smtp_sink=smtp_sink)
        inbox.release()
        stdout, stderr = first.communicate(timeout=30)
    finally:
        first.kill()
        first.wait(10)
    assert second.returncode == 0, second.stderr
    assert summary(second) == "1 pending confirmation email(s): 0 sent, 1 skipped, 0 failed."
    assert first.returncode == 0, stderr
    assert stdout.strip().splitlines()[-1] == (
        "1 pending confirmation email(s): 1 sent, 0 skipped, 0 failed."
    )
    inbox.exactly_one()
    assert order_status(pending_order) == Order.EmailStatus.SENT


def test_an_email_that_cannot_be_sent_stays_pending_and_the_command_fails(pending_order, smtp_sink):
    smtp_sink.inbox.refuse_next(1)
    failed = manage("dispatch_pending_emails", *NOW, smtp_sink=smtp_sink)
    assert failed.returncode == 1
    assert summary(failed) == "1 pending confirmation email(s): 0 sent, 0 skipped, 1 failed."
    assert f"failed {pending_order.number}: SMTPDataError" in failed.stderr
    assert "1 confirmation email(s) could not be sent." in failed.stderr
    assert order_status(pending_order) == Order.EmailStatus.PENDING
    assert "451" in pending_order.email_error

    retried = manage("dispatch_pending_emails", *NOW, smtp_sink=smtp_sink)
    assert retried.returncode == 0, retried.stderr
    smtp_sink.inbox.exactly_one()
    assert order_status(pending_order) == Order.EmailStatus.SENT
    assert pending_order.email_error == ""
