"""A cart's quote: each line through quote_seat_change, credit carried line to line. Pure."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from moneyed import Money

from checkout.pricing import LineInput, quote_cart
from subscriptions.proration import quote_seat_change
from subscriptions.vat import DOMESTIC, REVERSE_CHARGE, TaxTreatment

NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)
AT = datetime(2026, 11, 26, 12, tzinfo=UTC)
GERMAN_VAT = TaxTreatment(DOMESTIC, Decimal("19"), "DE")


def line(subscription_id=1, current=10, new=7, price="42.00", **overrides) -> LineInput:
    values = {
        "subscription_id": subscription_id,
        "subscription_version": 1,
        "unit_price": Money(price, "EUR"),
        "interval": "month",
        "current_seats": current,
        "new_seats": new,
        "period_start": NOV_1,
        "period_end": DEC_1,
    } | overrides
    return LineInput(**values)


def test_one_line_is_exactly_the_quote_function():
    cart = quote_cart(lines=[line()], tax=GERMAN_VAT, account_credit=Money("0", "EUR"), at=AT)
    single = quote_seat_change(
        unit_price=Money("42.00", "EUR"),
        interval="month",
        current_seats=10,
        new_seats=7,
        period_start=NOV_1,
        period_end=DEC_1,
        at=AT,
        tax_rate=Decimal("19"),
        account_credit=Money("0", "EUR"),
    )
    assert cart.lines[0][1] == single
    assert (cart.total, cart.amount_due) == (Money("274.89", "EUR"), Money("274.89", "EUR"))


@pytest.mark.parametrize("decrease_first", [True, False])
def test_an_increase_and_a_decrease_are_settled_together_in_any_order(decrease_first):
    # 10 → 1 (Nov 1–Dec 1 at €42): credit 63.00, charge 42.00, subtotal -21.00, tax -3.99,
    #   total -24.99.
    # 1 → 3: credit 6.30, charge 126.00, subtotal 119.70, tax 22.74, total 142.44.
    # Cart total 117.45 > 0: nothing added to the credit, 117.45 due, whichever line is first.
    ids = (1, 2) if decrease_first else (2, 1)
    cart = quote_cart(
        lines=[line(ids[0], current=10, new=1), line(ids[1], current=1, new=3)],
        tax=GERMAN_VAT,
        account_credit=Money("0", "EUR"),
        at=AT,
    )
    assert cart.total == Money("117.45", "EUR")
    assert cart.amount_due == Money("117.45", "EUR")
    assert (cart.credit_added, cart.credit_applied) == (Money("0", "EUR"), Money("0", "EUR"))


def test_account_credit_pays_the_cart_total_once():
    # Totals 274.89 (10 → 7) and -24.99 (10 → 1): 249.90, of which 100.00 from credit.
    cart = quote_cart(
        lines=[line(1, current=10, new=7), line(2, current=10, new=1)],
        tax=GERMAN_VAT,
        account_credit=Money("100.00", "EUR"),
        at=AT,
    )
    assert cart.total == Money("249.90", "EUR")
    assert (cart.credit_applied, cart.amount_due) == (
        Money("100.00", "EUR"),
        Money("149.90", "EUR"),
    )


def test_a_cart_that_lowers_the_bill_adds_its_credit_and_charges_nothing():
    # 10 → 1: total -24.99. 20 → 2: credit 126.00, charge 84.00, subtotal -42.00,
    # tax -7.98, total -49.98. Cart total -74.97: 74.97 added, the 100.00 balance untouched.
    cart = quote_cart(
        lines=[line(1, current=10, new=1), line(2, current=20, new=2)],
        tax=GERMAN_VAT,
        account_credit=Money("100.00", "EUR"),
        at=AT,
    )
    assert cart.total == Money("-74.97", "EUR")
    assert (cart.credit_applied, cart.amount_due, cart.credit_added) == (
        Money("0.00", "EUR"),
        Money("0.00", "EUR"),
        Money("74.97", "EUR"),
    )


def test_totals_are_sums_of_the_lines():
    cart = quote_cart(
        lines=[line(1, current=10, new=12), line(2, current=3, new=5, price="19.00")],
        tax=GERMAN_VAT,
        account_credit=Money("100.00", "EUR"),
        at=AT,
    )
    for name in ("credit", "charge", "subtotal", "total"):
        assert getattr(cart, name) == sum(
            (getattr(quote, name) for _, quote in cart.lines), Money("0", "EUR")
        )
    assert cart.tax_amount == sum((quote.tax for _, quote in cart.lines), Money("0", "EUR"))


def test_reverse_charge_adds_no_tax():
    cart = quote_cart(
        lines=[line(new=12)],
        tax=TaxTreatment(REVERSE_CHARGE, Decimal("0"), "FR"),
        account_credit=Money("0", "EUR"),
        at=AT,
    )
    assert cart.tax_amount == Money("0.00", "EUR")
    assert cart.total == cart.subtotal == Money("441.00", "EUR")


@pytest.mark.parametrize(
    "change",
    [
        {"current_seats": 9},
        {"new_seats": 8},
        {"unit_price": Money("43.00", "EUR")},
        {"period_start": datetime(2026, 11, 2, tzinfo=UTC)},
        {"subscription_version": 2},
    ],
)
def test_any_change_of_the_inputs_changes_the_fingerprint(change):
    base = quote_cart(lines=[line()], tax=GERMAN_VAT, account_credit=Money("0", "EUR"), at=AT)
    other = quote_cart(
        lines=[line(**change)], tax=GERMAN_VAT, account_credit=Money("0", "EUR"), at=AT
    )
    assert base.fingerprint() != other.fingerprint()


def test_tax_credit_and_instant_are_in_the_fingerprint():
    base = quote_cart(lines=[line()], tax=GERMAN_VAT, account_credit=Money("0", "EUR"), at=AT)
    same = quote_cart(lines=[line()], tax=GERMAN_VAT, account_credit=Money("0", "EUR"), at=AT)
    assert base.fingerprint() == same.fingerprint()
    for other in (
        quote_cart(
            lines=[line()],
            tax=TaxTreatment(DOMESTIC, Decimal("16"), "DE"),
            account_credit=Money("0", "EUR"),
            at=AT,
        ),
        quote_cart(lines=[line()], tax=GERMAN_VAT, account_credit=Money("5", "EUR"), at=AT),
        quote_cart(
            lines=[line()],
            tax=GERMAN_VAT,
            account_credit=Money("0", "EUR"),
            at=datetime(2026, 11, 26, 12, 0, 1, tzinfo=UTC),
        ),
    ):
        assert other.fingerprint() != base.fingerprint()


def test_an_empty_cart_cannot_be_quoted():
    with pytest.raises(ValueError, match="empty"):
        quote_cart(lines=[], tax=GERMAN_VAT, account_credit=Money("0", "EUR"), at=AT)
