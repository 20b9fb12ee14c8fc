"""`manage.py export_orders`: the finance export, one row per order line, every amount."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.management import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from checkout.management.commands.export_orders import FIELDS
from checkout.models import Order
from tests.checkout.helpers import place
from tests.factories import MembershipFactory, SubscriptionFactory
from tests.ops.conftest import AT, NOV_1, run
from tests.shared_fixtures import put_in_cart

pytestmark = pytest.mark.django_db

NOV_6 = datetime(2026, 11, 6, tzinfo=UTC)


@pytest.fixture
def fromagerie_order(db):
    """A French business with a VAT number (reverse charge) goes 10 → 2 and 5 → 6 on Nov 6."""
    membership = MembershipFactory(
        account__name="Fromagerie SARL",
        account__country="FR",
        account__vat_number="FR40303265045",
        account__time_zone="Europe/Paris",
    )
    account = membership.account
    support = SubscriptionFactory(
        account=account, plan__product__name="Cheese Support", seats=10, billing_anchor=NOV_1
    )
    meetings = SubscriptionFactory(
        account=account, plan__product__name="Cheese Meetings", seats=5, billing_anchor=NOV_1
    )
    with time_machine.travel(NOV_6, tick=False):
        put_in_cart(support, 2)
        put_in_cart(meetings, 6)
        return place(account, membership.user, at=NOV_6)


@pytest.fixture
def acme_order(admin, acme, remote_support):
    """The rules' example: Acme (Germany, 19 %) goes 10 → 7 at Nov 26 12:00."""
    with time_machine.travel(AT, tick=False):
        put_in_cart(remote_support, 7)
        return place(acme, admin)


@pytest.fixture
def orders(fromagerie_order, acme_order):
    return fromagerie_order, acme_order


def export_csv(**options) -> tuple[list[dict], str]:
    out, err = run("export_orders", **options)
    reader = csv.DictReader(io.StringIO(out))
    assert tuple(reader.fieldnames) == FIELDS
    return list(reader), err


def test_csv_has_one_row_per_line_with_every_amount(orders):
    fromagerie, acme = orders
    rows, err = export_csv(since="2026-11-01")
    assert [(row["order_number"], row["product"]) for row in rows] == [
        (fromagerie.number, "Cheese Support"),
        (fromagerie.number, "Cheese Meetings"),
        (acme.number, "Remote Support v5"),
    ]
    support, meetings, example = rows
    assert example == {
        "order_number": acme.number,
        "order_kind": "seat_change",
        "placed_at": "2026-11-26T12:00:00Z",
        "effective_at": "2026-11-26T12:00:00Z",
        "account_id": str(acme.account_id),
        "account": "Acme GmbH",
        "country": "DE",
        "vat_number": "",
        "tax_kind": "domestic",
        "tax_rate": "19.00",
        "product": "Remote Support v5",
        "interval": "month",
        "from_seats": "10",
        "to_seats": "7",
        "unit_price": "42.00",
        "currency": "EUR",
        "period_start": "2026-11-01T00:00:00Z",
        "period_end": "2026-12-01T00:00:00Z",
        "new_period_start": "2026-11-26T12:00:00Z",
        "new_period_end": "2026-12-26T12:00:00Z",
        "credit": "63.00",
        "charge": "294.00",
        "subtotal": "231.00",
        "tax": "43.89",
        "total": "274.89",
        "order_total": "274.89",
        "order_credit_applied": "0.00",
        "order_credit_added": "0.00",
        "order_amount_due": "274.89",
    }
    # Reverse charge: no VAT; 10 → 2 with 25 of 30 days unused credits 350.00.
    assert {key: support[key] for key in ("placed_at", "country", "vat_number", "tax_kind")} == {
        "placed_at": "2026-11-06T00:00:00Z",
        "country": "FR",
        "vat_number": "FR40303265045",
        "tax_kind": "reverse_charge",
    }
    amounts = ("credit", "charge", "subtotal", "tax", "total")
    assert [support[name] for name in amounts] == ["350.00", "84.00", "-266.00", "0.00", "-266.00"]
    assert [meetings[name] for name in amounts] == ["175.00", "252.00", "77.00", "0.00", "77.00"]
    # The order settles once: −266.00 + 77.00 = −189.00 goes to the account credit.
    order_amounts = (
        "order_total",
        "order_credit_applied",
        "order_credit_added",
        "order_amount_due",
    )
    for row in (support, meetings):
        assert [row[name] for name in order_amounts] == ["-189.00", "0.00", "189.00", "0.00"]
    fromagerie.refresh_from_db()
    assert str(fromagerie.credit_added.amount) == "189.00"
    assert err.strip() == (
        "export_orders: 3 line(s) of 2 order(s) placed from 2026-11-01T00:00:00Z, as csv."
    )


def test_json_is_one_array_with_the_same_rows(orders):
    rows, _ = export_csv(since="2026-11-01")
    out, err = run("export_orders", since="2026-11-01", format="json")
    exported = json.loads(out)
    assert [list(item) for item in exported] == [list(FIELDS)] * 3
    # The same values as the CSV; numbers of seats and ids are JSON numbers.
    assert [{key: str(value) for key, value in item.items()} for item in exported] == rows
    assert (exported[2]["to_seats"], exported[2]["total"], exported[2]["order_amount_due"]) == (
        7,
        "274.89",
        "274.89",
    )
    assert "3 line(s) of 2 order(s)" in err and err.strip().endswith("as json.")


def test_until_is_exclusive_and_offsets_are_honoured(orders):
    fromagerie, acme = orders
    rows, _ = export_csv(since="2026-11-01", until="2026-11-26T12:00:00Z")
    assert {row["order_number"] for row in rows} == {fromagerie.number}
    rows, _ = export_csv(since="2026-11-26T13:00:00+01:00", until="2026-11-27")
    assert [row["order_number"] for row in rows] == [acme.number]
    rows, _ = export_csv(since="2026-11-01", until="2026-11-06")
    assert rows == []


def test_an_empty_range_is_a_header_or_an_empty_array(orders):
    out, err = run("export_orders", since="2027-01-01")
    assert out.splitlines() == [",".join(FIELDS)]
    assert "0 line(s) of 0 order(s)" in err
    out, _ = run("export_orders", since="2027-01-01", format="json")
    assert json.loads(out) == []


def test_the_export_reads_in_a_constant_number_of_queries(fromagerie_order, admin, acme):
    with CaptureQueriesContext(connection) as one_order:
        run("export_orders", since="2026-11-01")
    for number in range(5):
        subscription = SubscriptionFactory(account=acme, seats=10, billing_anchor=NOV_1)
        with time_machine.travel(AT, tick=False):
            put_in_cart(subscription, 1 + number)
            place(acme, admin)
    assert Order.objects.count() == 6
    with CaptureQueriesContext(connection) as six_orders:
        out, _ = run("export_orders", since="2026-11-01")
    assert len(out.splitlines()) == 1 + 2 + 5
    assert len(one_order) == len(six_orders) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"since": "yesterday"}, r"--since 'yesterday' is not an ISO 8601 date"),
        ({"since": "2026-11-01", "until": "2026-02-30"}, r"--until '2026-02-30' is not an ISO"),
        (
            {"since": "2026-11-26", "until": "2026-11-26"},
            r"--until 2026-11-26T00:00:00Z must be after --since 2026-11-26T00:00:00Z",
        ),
        ({"since": "2026-11-01", "format": "xml"}, r"--format 'xml' is not known"),
    ],
)
def test_bad_input_is_refused_with_a_message(db, options, message):
    with pytest.raises(CommandError, match=message):
        run("export_orders", **options)


def test_since_is_required(db):
    with pytest.raises(CommandError, match="--since"):
        run("export_orders", "--format", "json")
