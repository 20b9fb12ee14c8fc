"""Issue #13, section 2, item 7: `manage.py export_orders` writes no spreadsheet formulas.

Account and product names are typed by customers and staff. A CSV cell that starts with
=, +, -, @, tab or carriage return is run as a formula when finance opens the file
(OWASP "CSV Injection"): such a text cell is written with a leading single quote, so
the spreadsheet shows it as text. Amounts stay plain numbers, negative ones included.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
import time_machine

from checkout.management.commands.export_orders import FIELDS, NUMBER_FIELDS
from tests.checkout.helpers import place
from tests.factories import MembershipFactory, SubscriptionFactory
from tests.ops.conftest import run
from tests.shared_fixtures import NOV_1, put_in_cart

pytestmark = pytest.mark.django_db

NOV_6 = datetime(2026, 11, 6, tzinfo=UTC)
HYPERLINK = '=HYPERLINK("http://x","y")'


def order_named(account_name: str, product_name: str, *, vat_number: str = ""):
    """A German account goes 10 → 2 licenses on Nov 6: 25 of 30 days unused, so the
    order is a credit (negative amounts)."""
    membership = MembershipFactory(
        account__name=account_name, account__country="DE", account__vat_number=vat_number
    )
    subscription = SubscriptionFactory(
        account=membership.account, plan__product__name=product_name, seats=10, billing_anchor=NOV_1
    )
    with time_machine.travel(NOV_6, tick=False):
        put_in_cart(subscription, 2)
        return place(membership.account, membership.user, at=NOV_6)


def export_csv() -> tuple[list[dict], str]:
    out, _ = run("export_orders", since="2026-11-01")
    return list(csv.DictReader(io.StringIO(out))), out


def test_formula_names_are_text_and_negative_amounts_stay_numbers():
    order = order_named(HYPERLINK, "@SUM(1)")
    (row,), out = export_csv()
    assert row["account"] == "'" + HYPERLINK
    assert row["product"] == "'@SUM(1)"
    # 10 × €42 × 25/30 = €350.00 credit, 2 × €42 = €84.00 charge, 19 % VAT.
    amounts = {
        "credit": "350.00",
        "charge": "84.00",
        "subtotal": "-266.00",
        "tax": "-50.54",
        "total": "-316.54",
        "order_total": "-316.54",
        "order_credit_added": "316.54",
        "order_amount_due": "0.00",
    }
    assert {field: row[field] for field in amounts} == amounts
    assert str(order.total.amount) == "-316.54"
    # In the file itself: the amount a bare number, the name a quoted text.
    data_line = out.splitlines()[1]
    assert ",-266.00,-50.54,-316.54,-316.54," in data_line
    assert "'-" not in data_line
    assert '"\'=HYPERLINK(""http://x"",""y"")"' in data_line


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+49 30 1234", "'+49 30 1234"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Acme =1+1 GmbH", "Acme =1+1 GmbH"),
        ("'quoted", "'quoted"),
    ],
    ids=["equals", "plus", "minus", "at", "tab", "carriage return", "inside", "quote"],
)
def test_each_formula_start_is_neutralised_in_every_text_column(name, written):
    order_named(f"{name} account", f"{name} product", vat_number="")
    (row,), _ = export_csv()
    assert (row["account"], row["product"]) == (f"{written} account", f"{written} product")


def test_only_text_columns_are_touched():
    """Every column the export writes as a number is one, and no other text changes."""
    assert NUMBER_FIELDS.issubset(FIELDS)
    order_named("Plain GmbH", "Plain Product")
    (row,), _ = export_csv()
    for field in NUMBER_FIELDS:
        assert not row[field].startswith("'"), field
        float(row[field])  # a number, as a spreadsheet reads it
    assert row["account"] == "Plain GmbH" and row["product"] == "Plain Product"


def test_json_keeps_the_names_as_they_are():
    """JSON is read by programs, not spreadsheets: the names are the customers' own."""
    order_named(HYPERLINK, "@SUM(1)")
    out, _ = run("export_orders", since="2026-11-01", format="json")
    (row,) = json.loads(out)
    assert (row["account"], row["product"], row["total"]) == (HYPERLINK, "@SUM(1)", "-316.54")
