"""`manage.py list_subscriptions`: what operations sees, in one query however many rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from subscriptions.models import Subscription
from tests.factories import AccountFactory, SeatAssignmentFactory, SubscriptionFactory
from tests.ops.conftest import NOV_1, run

pytestmark = pytest.mark.django_db

OCT_13 = datetime(2026, 10, 13, 9, 30, tzinfo=UTC)


@pytest.fixture
def expired_trial(acme):
    return SubscriptionFactory(
        account=acme,
        plan__product__name="Remote Access",
        plan__price="19.00",
        status=Subscription.Status.EXPIRED,
        seats=0,
        billing_anchor=OCT_13,
        trial_end=datetime(2026, 11, 12, 9, 30, tzinfo=UTC),
    )


@pytest.fixture
def globex(db):
    account = AccountFactory(name="Globex Corporation", country="US", currency="USD")
    return SubscriptionFactory(account=account, plan__product__name="Meeting Rooms", seats=250)


def table_rows(output: str) -> list[list[str]]:
    """The table's data rows, split on runs of two or more spaces."""
    import re

    lines = output.splitlines()
    assert lines[0].split()[:3] == ["ID", "ACCOUNT", "PRODUCT"]
    return [re.split(r"\s{2,}", line.strip()) for line in lines[1:-1]]


def test_the_table_shows_each_subscription_with_its_numbers(remote_support, expired_trial, globex):
    out, _ = run("list_subscriptions")
    rows = table_rows(out)
    assert rows == [
        [
            str(expired_trial.pk),
            "Acme GmbH",
            "Remote Access",
            "month 19.00 EUR",
            "expired",
            "0",
            "0",
            "2026-10-13 09:30",
            "2026-11-13 09:30",
            "-",
        ],
        [
            str(remote_support.pk),
            "Acme GmbH",
            "Remote Support v5",
            "month 42.00 EUR",
            "active",
            "10",
            "3",
            "2026-11-01 00:00",
            "2026-12-01 00:00",
            "2026-12-01 00:00",
        ],
        [
            str(globex.pk),
            "Globex Corporation",
            "Meeting Rooms",
            "month 42.00 USD",
            "active",
            "250",
            "0",
            "2026-11-01 00:00",
            "2026-12-01 00:00",
            "2026-12-01 00:00",
        ],
    ]
    assert out.splitlines()[-1] == "list_subscriptions: 3 subscriptions (2 active, 1 expired)"


def test_json_is_one_array_of_objects_with_utc_times(remote_support, expired_trial):
    out, err = run("list_subscriptions", json=True)
    listed = json.loads(out)
    assert [item["id"] for item in listed] == [expired_trial.pk, remote_support.pk]
    assert listed[1] == {
        "id": remote_support.pk,
        "account_id": remote_support.account_id,
        "account": "Acme GmbH",
        "product": "Remote Support v5",
        "plan_id": remote_support.plan_id,
        "interval": "month",
        "unit_price": "42.00",
        "currency": "EUR",
        "status": "active",
        "seats": 10,
        "assigned_seats": 3,
        "current_period_start": "2026-11-01T00:00:00Z",
        "current_period_end": "2026-12-01T00:00:00Z",
        "next_billing_date": "2026-12-01T00:00:00Z",
        "trial_end": None,
        "cancel_at_period_end": False,
    }
    assert listed[0]["next_billing_date"] is None  # an expired trial does not bill
    assert listed[0]["trial_end"] == "2026-11-12T09:30:00Z"
    # The summary stays off stdout, so the JSON can be piped.
    assert err.strip() == "list_subscriptions: 2 subscriptions (1 active, 1 expired)"


def test_a_subscription_ending_at_its_period_end_has_no_next_billing_date(remote_support):
    Subscription.objects.filter(pk=remote_support.pk).update(cancel_at_period_end=True)
    out, _ = run("list_subscriptions", json=True)
    assert json.loads(out)[0]["next_billing_date"] is None


def test_nothing_to_list_is_an_empty_array_and_a_zero_summary(db):
    out, err = run("list_subscriptions", json=True)
    assert json.loads(out) == []
    assert err.strip() == "list_subscriptions: 0 subscriptions"


@pytest.mark.parametrize("name_or_id", ["Acme GmbH", "acme gmbh", "id"])
def test_account_by_name_or_id(remote_support, expired_trial, globex, name_or_id):
    if name_or_id == "id":
        name_or_id = str(remote_support.account_id)
    out, _ = run("list_subscriptions", account=name_or_id, json=True)
    assert {item["id"] for item in json.loads(out)} == {remote_support.pk, expired_trial.pk}


def test_status_filter(remote_support, expired_trial, globex):
    out, _ = run("list_subscriptions", status="expired", json=True)
    assert [item["id"] for item in json.loads(out)] == [expired_trial.pk]


def test_an_unknown_account_is_refused_with_a_message(remote_support):
    with pytest.raises(CommandError, match="No account has the name or id 'Initech'"):
        run("list_subscriptions", account="Initech")
    with pytest.raises(CommandError, match="No account has the name or id '999999'"):
        run("list_subscriptions", "--account", "999999")


def test_an_unknown_status_is_refused_with_the_known_ones(db):
    with pytest.raises(CommandError, match="invalid choice: 'paused'"):
        run("list_subscriptions", "--status", "paused")


def listing_queries(**options) -> int:
    with CaptureQueriesContext(connection) as queries:
        run("list_subscriptions", **options)
    return len(queries)


@pytest.mark.parametrize("as_json", [False, True])
def test_the_number_of_queries_does_not_grow_with_the_rows(acme, as_json):
    first = SubscriptionFactory(account=acme, billing_anchor=NOV_1)
    SeatAssignmentFactory(subscription=first)
    one = listing_queries(json=as_json)
    for _ in range(19):
        subscription = SubscriptionFactory(account=acme, billing_anchor=NOV_1)
        SeatAssignmentFactory.create_batch(2, subscription=subscription)
    twenty = listing_queries(json=as_json)
    out, _ = run("list_subscriptions", json=True)
    assert len(json.loads(out)) == 20
    assert one == twenty <= 2
    # Filtered by account: one more query to find it, still constant.
    assert listing_queries(json=as_json, account="Acme GmbH") <= 3
