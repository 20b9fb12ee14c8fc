"""`manage.py preview_seat_change`: the billing admin's quote, for support, writing nothing."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.core.management import CommandError
from moneyed import Money

from subscriptions.models import Account, CreditLedgerEntry, Subscription
from tests.factories import MembershipFactory, SubscriptionFactory
from tests.ops.conftest import NOV_1, run

pytestmark = pytest.mark.django_db

AT_ISO = "2026-11-26T12:00:00Z"


def table(output: str) -> dict[str, str]:
    """The preview's ``name  value`` lines as a dict (notes after the value dropped)."""
    fields = {}
    for line in output.splitlines():
        match = re.fullmatch(r"  (\w+)\s+(.+?)(?:   .*)?", line)
        if match:
            fields[match[1]] = match[2].strip()
    return fields


def test_the_rules_example_as_a_table(remote_support):
    out, _ = run("preview_seat_change", str(remote_support.pk), seats="7", at=AT_ISO)
    assert out.splitlines()[0] == (
        f"Seat change for subscription {remote_support.pk}: Acme GmbH, Remote Support v5 "
        "(monthly, active)"
    )
    assert table(out) == {
        "at": "2026-11-26T12:00:00Z",
        "current_seats": "10",
        "new_seats": "7",
        "current_period_start": "2026-11-01T00:00:00Z",
        "current_period_end": "2026-12-01T00:00:00Z",
        "unit_price": "42.00 EUR",
        "currency": "EUR",
        "tax_rate": "19.00 %",
        "account_credit": "0.00 EUR",
        "credit": "63.00 EUR",
        "charge": "294.00 EUR",
        "subtotal": "231.00 EUR",
        "tax": "43.89 EUR",
        "total": "274.89 EUR",
        "credit_applied": "0.00 EUR",
        "amount_due": "274.89 EUR",
        "credit_added": "0.00 EUR",
        "new_period_start": "2026-11-26T12:00:00Z",
        "new_period_end": "2026-12-26T12:00:00Z",
    }
    assert "10 × 42.00 × 3/20 of the period unused" in out
    assert "3 assigned to users" in out
    assert out.splitlines()[-1] == (
        f"preview_seat_change: subscription {remote_support.pk}, 10 → 7 licenses at "
        "2026-11-26T12:00:00Z: total 274.89 EUR, amount due 274.89 EUR; nothing written."
    )


def test_the_rules_example_as_json(remote_support):
    out, err = run(
        "preview_seat_change", str(remote_support.pk), "--seats", "7", "--at", AT_ISO, "--json"
    )
    assert json.loads(out) == {
        "subscription_id": remote_support.pk,
        "account": "Acme GmbH",
        "product": "Remote Support v5",
        "status": "active",
        "interval": "month",
        "at": "2026-11-26T12:00:00Z",
        "current_seats": 10,
        "assigned_seats": 3,
        "new_seats": 7,
        "current_period_start": "2026-11-01T00:00:00Z",
        "current_period_end": "2026-12-01T00:00:00Z",
        "unused_fraction": "3/20",
        "unit_price": "42.00",
        "currency": "EUR",
        "tax_kind": "domestic",
        "tax_rate": "19.00",
        "account_credit": "0.00",
        "credit": "63.00",
        "charge": "294.00",
        "subtotal": "231.00",
        "tax": "43.89",
        "total": "274.89",
        "credit_applied": "0.00",
        "amount_due": "274.89",
        "credit_added": "0.00",
        "new_period_start": "2026-11-26T12:00:00Z",
        "new_period_end": "2026-12-26T12:00:00Z",
    }
    assert err.startswith("preview_seat_change: subscription")


def test_the_account_credit_pays_first(remote_support, acme):
    CreditLedgerEntry.objects.create(
        account=acme, amount=Money("100.00", "EUR"), reason=CreditLedgerEntry.Reason.GOODWILL
    )
    out, _ = run("preview_seat_change", str(remote_support.pk), seats=7, at=AT_ISO, json=True)
    preview = json.loads(out)
    assert (preview["account_credit"], preview["credit_applied"], preview["amount_due"]) == (
        "100.00",
        "100.00",
        "174.89",
    )


def test_an_offset_time_means_the_same_instant(remote_support):
    out, _ = run(
        "preview_seat_change",
        str(remote_support.pk),
        seats=7,
        at="2026-11-26T13:00:00+01:00",
        json=True,
    )
    assert json.loads(out)["at"] == AT_ISO
    assert json.loads(out)["total"] == "274.89"


def test_a_reduction_below_zero_adds_credit_and_reverse_charge_has_no_tax(db):
    membership = MembershipFactory(
        account__name="Fromagerie SARL", account__country="FR", account__vat_number="FR40303265045"
    )
    subscription = SubscriptionFactory(account=membership.account, seats=10, billing_anchor=NOV_1)
    out, _ = run(
        "preview_seat_change", str(subscription.pk), seats=2, at="2026-11-06T00:00Z", json=True
    )
    preview = json.loads(out)
    assert (preview["tax_kind"], preview["tax_rate"], preview["unused_fraction"]) == (
        "reverse_charge",
        "0.00",
        "5/6",
    )
    assert [
        preview[name]
        for name in ("credit", "charge", "subtotal", "tax", "total", "amount_due", "credit_added")
    ] == ["350.00", "84.00", "-266.00", "0.00", "-266.00", "0.00", "266.00"]


def test_an_expired_trial_is_quoted_as_a_purchase_from_zero(acme):
    trial = SubscriptionFactory(
        account=acme,
        status=Subscription.Status.EXPIRED,
        seats=0,
        billing_anchor=datetime(2026, 10, 1, tzinfo=UTC),
        trial_end=datetime(2026, 10, 31, tzinfo=UTC),
    )
    out, _ = run("preview_seat_change", str(trial.pk), seats=4, at=AT_ISO, json=True)
    preview = json.loads(out)
    assert (preview["current_seats"], preview["credit"], preview["charge"]) == (0, "0.00", "168.00")
    assert (preview["tax"], preview["total"]) == ("31.92", "199.92")
    assert (preview["current_period_start"], preview["new_period_end"]) == (
        AT_ISO,
        "2026-12-26T12:00:00Z",
    )


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label in {"subscriptions", "payments", "checkout"}
    }


def test_a_preview_writes_nothing(remote_support):
    before = row_counts()
    remote_support.refresh_from_db()
    out, _ = run("preview_seat_change", str(remote_support.pk), seats=7, at=AT_ISO, dry_run=True)
    assert "274.89 EUR" in out
    assert row_counts() == before
    after = Subscription.objects.get(pk=remote_support.pk)
    assert (after.seats, after.version, after.updated_at) == (
        10,
        remote_support.version,
        remote_support.updated_at,
    )


@pytest.mark.parametrize(
    ("seats", "at", "message"),
    [
        (2, AT_ISO, r"\(below_assigned\): 3 licenses are assigned to users"),
        (1001, AT_ISO, r"\(above_maximum\): This plan allows at most 1000 licenses"),
        (10, AT_ISO, r"\(no_change\): The subscription already has 10 licenses"),
        (0, AT_ISO, r"\(below_one\): The number of licenses must be at least 1"),
        ("-3", AT_ISO, r"\(below_one\)"),
        ("7.5", AT_ISO, r"--seats must be a whole number, such as 7; got '7.5'"),
        ("seven", AT_ISO, r"--seats must be a whole number, such as 7; got 'seven'"),
        (7, "2026-12-01T00:00:00Z", r"\(outside_period\): The change at .* is outside"),
        (7, "26/11/2026", r"--at '26/11/2026' is not an ISO 8601 date or time"),
    ],
)
def test_what_the_rules_refuse_exits_with_the_reason(remote_support, seats, at, message):
    with pytest.raises(CommandError, match=message):
        run("preview_seat_change", str(remote_support.pk), "--seats", str(seats), "--at", at)


def test_a_corporate_account_is_refused(remote_support, acme):
    Account.objects.filter(pk=acme.pk).update(billing_channel=Account.BillingChannel.CORPORATE)
    with pytest.raises(CommandError, match=r"\(corporate\): Acme GmbH is billed through its corp"):
        run("preview_seat_change", str(remote_support.pk), seats=7, at=AT_ISO)


def test_an_unknown_subscription_is_refused(db):
    with pytest.raises(CommandError, match="No subscription has the id 999999"):
        run("preview_seat_change", "999999", seats=7)
    with pytest.raises(CommandError, match="SUBSCRIPTION_ID must be a whole number"):
        run("preview_seat_change", "acme", seats=7)


def test_seats_are_required(remote_support):
    with pytest.raises(CommandError, match="--seats"):
        run("preview_seat_change", str(remote_support.pk))
