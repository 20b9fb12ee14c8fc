"""manage.py renew_subscriptions: help, dry run, progress on a terminal, summary, exit codes."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError

from checkout.models import Order
from payments.models import Payment, PaymentMethod
from subscriptions.models import Subscription
from tests.payments.conftest import free_port
from tests.renewals.conftest import DEC_1, subscribe

pytestmark = pytest.mark.django_db


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_manage_py(monkeypatch, *argv: str) -> None:
    """As from the shell: the exit code is what the shell would see."""
    from django.db import connections

    # run_from_argv closes the connections at the end; the test's transaction needs its own.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    ManagementUtility(["manage.py", *argv]).execute()


def renew_command(*args: str, stdout=None, stderr=None) -> str:
    stdout = stdout if stdout is not None else io.StringIO()
    call_command("renew_subscriptions", *args, stdout=stdout, stderr=stderr or io.StringIO())
    return stdout.getvalue()


@pytest.fixture
def at_dec_1():
    with time_machine.travel(DEC_1 + timedelta(hours=1), tick=False) as traveller:
        yield traveller


def test_help_says_what_it_does(capsys):
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "renew_subscriptions", "--help"]).execute()
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for option in ("--at ISO", "--dry-run", "--batch-size N"):
        assert option in text
    assert "past due" in text and "non-zero" in text


def test_it_renews_and_ends_with_a_one_line_summary(acme, at_dec_1):
    subscription = subscribe(acme)
    canceling = subscribe(acme, seats=2, cancel_at_period_end=True)
    declined = subscribe(
        acme.__class__.objects.create(name="Initech GmbH", country="DE", currency="EUR")
    )
    PaymentMethod.objects.create(
        account=declined.account,
        gateway="sandbox",
        gateway_reference="sandbox_pm_declined",
        brand="Visa",
        last4="0002",
        exp_month=12,
        exp_year=2030,
    )

    output = renew_command()

    lines = output.strip().splitlines()
    assert lines[-1] == (
        "Renewed 1 period(s), charged EUR 499.80; 1 failed → past due, 0 suspended, "
        "1 canceled; 0 left for a later run, 0 error(s)."
    )
    # A past-due subscription is named; renewals only with -v 2.
    assert any(
        line.startswith("charge declined (card_declined)")
        and f"subscription {declined.pk} " in line
        for line in lines
    )
    assert "\r" not in output and "Renewing:" not in output  # not a terminal: no progress
    subscription.refresh_from_db()
    canceling.refresh_from_db()
    assert subscription.current_period_start == DEC_1
    assert canceling.status == Subscription.Status.CANCELED


def test_verbosity_2_names_each_renewal(acme, at_dec_1):
    subscription = subscribe(acme)
    output = renew_command("-v", "2")
    number = Order.objects.get().number
    assert f"renewed ({number}) subscription {subscription.pk} (Acme GmbH" in output
    assert "EUR 499.80 due" in output


def test_progress_only_on_a_terminal(acme, at_dec_1):
    for seats in (1, 2, 3):
        subscribe(acme, seats=seats)
    output = renew_command("--batch-size", "2", stdout=Terminal())
    assert "\rRenewing: 2/3 subscriptions" in output or "Renewing: 2/3 subscriptions" in output
    assert "Renewing: 3/3 subscriptions" in output
    assert output.rstrip().endswith("0 left for a later run, 0 error(s).")


def test_dry_run_writes_nothing_and_lists_what_it_would_do(acme, at_dec_1):
    subscription = subscribe(acme)
    subscribe(acme, seats=2, cancel_at_period_end=True)
    output = renew_command("--dry-run")
    assert not Order.objects.exists() and not Payment.objects.exists()
    assert Subscription.objects.filter(status="active", current_period_end=DEC_1).count() == 2
    assert f"would renew subscription {subscription.pk} (Acme GmbH" in output
    assert "EUR 499.80 due" in output
    assert "would cancel subscription" in output
    assert output.strip().splitlines()[-1] == (
        "Dry run, nothing written: would renew 1 period(s), charging EUR 499.80; "
        "would cancel 1; 0 error(s)."
    )


def test_at_in_the_past_renews_what_was_due_then(acme, at_dec_1):
    subscribe(acme)
    output = renew_command("--at", "2026-11-30T23:59:59Z")
    assert output.startswith("Renewed 0 period(s)")
    output = renew_command("--at", "2026-12-01T00:00:00+00:00")
    assert output.startswith("Renewed 1 period(s)")


def test_a_future_at_is_refused_unless_it_is_a_dry_run(acme, at_dec_1):
    subscribe(acme)
    with pytest.raises(CommandError, match="in the future"):
        renew_command("--at", "2027-01-01T00:00:00Z")
    assert not Order.objects.exists()
    output = renew_command("--at", "2027-01-01T00:00:00Z", "--dry-run")
    assert "would renew 2 period(s)" in output  # December and January


def test_bad_options_are_refused(db):
    with pytest.raises(CommandError, match="ISO 8601"):
        renew_command("--at", "tomorrow")
    with pytest.raises(CommandError, match="between 1 and 100000"):
        renew_command("--batch-size", "0")


def test_exit_code_is_non_zero_when_the_gateway_does_not_answer(
    acme, at_dec_1, settings, capsys, monkeypatch
):
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_nobody_home"
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    acme.stripe_customer_id = "cus_acme"
    acme.save()
    PaymentMethod.objects.filter(account=acme).update(gateway="stripe", gateway_reference="pm_1")
    subscription = subscribe(acme)

    with pytest.raises(SystemExit) as exited:
        run_manage_py(monkeypatch, "renew_subscriptions")

    assert exited.value.code == 1
    captured = capsys.readouterr()
    assert "0 past due" not in captured.out
    assert "1 left for a later run" in captured.out
    assert "is left for a later run" in captured.err
    assert "could not be done" in captured.err
    subscription.refresh_from_db()
    assert (subscription.status, subscription.current_period_end) == ("active", DEC_1)
    assert Payment.objects.get().status == "processing"  # asked again by the next run


def test_exit_code_is_zero_for_declines(acme, at_dec_1, capsys, monkeypatch):
    subscribe(acme)
    PaymentMethod.objects.filter(account=acme).update(last4="0002")
    run_manage_py(monkeypatch, "renew_subscriptions")  # no SystemExit: exit code 0
    assert "1 failed → past due" in capsys.readouterr().out
