"""quote_renewal: the renewal's numbers as a pure function (no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moneyed import Money

from subscriptions.proration import (
    InvalidAccountCredit,
    InvalidSeatCount,
    InvalidTaxRate,
    InvalidUnitPrice,
    MixedCurrencies,
    QuoteError,
    quote_renewal,
)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def quote(*, unit_price="42.00", seats=10, tax_rate="19", credit="0", currency="EUR"):
    return quote_renewal(
        unit_price=Money(Decimal(unit_price), currency),
        seats=seats,
        tax_rate=Decimal(tax_rate),
        account_credit=Money(Decimal(credit), currency),
    )


def test_ten_seats_at_42_euros_with_german_vat():
    renewal = quote()
    assert renewal.charge == eur("420.00")
    assert renewal.tax == eur("79.80")
    assert renewal.total == eur("499.80")
    assert (renewal.credit_applied, renewal.amount_due, renewal.credit_added) == (
        eur("0.00"),
        eur("499.80"),
        eur("0.00"),
    )
    assert renewal.currency == "EUR"
    # The inputs are kept to show the working.
    assert (renewal.unit_price, renewal.seats, renewal.tax_rate) == (eur("42.00"), 10, 19)


def test_each_line_is_rounded_once_half_up():
    # 3 × 0.335 = 1.005 → 1.01 (a tie, away from zero); tax on the rounded charge:
    # 1.01 × 19 % = 0.1919 → 0.19. Rounding the exact 1.005 × 19 % would give the same
    # here, so the second case shows the order: 7 × 13.33 = 93.31; × 19 % = 17.7289 → 17.73.
    assert (quote(unit_price="0.335", seats=3).charge, quote(unit_price="0.335", seats=3).tax) == (
        eur("1.01"),
        eur("0.19"),
    )
    renewal = quote(unit_price="13.33", seats=7)
    assert (renewal.charge, renewal.tax, renewal.total) == (
        eur("93.31"),
        eur("17.73"),
        eur("111.04"),
    )


def test_tax_is_computed_on_the_rounded_charge():
    # 1 × 0.125 = 0.125 → 0.13; 0.13 × 50 % = 0.065 → 0.07 (from the exact 0.125: 0.0625 → 0.06).
    renewal = quote(unit_price="0.125", seats=1, tax_rate="50")
    assert (renewal.charge, renewal.tax, renewal.total) == (eur("0.13"), eur("0.07"), eur("0.20"))


def test_reverse_charge_and_outside_the_eu_pay_no_vat():
    renewal = quote(tax_rate="0")
    assert (renewal.tax, renewal.total, renewal.amount_due) == (
        eur("0.00"),
        eur("420.00"),
        eur("420.00"),
    )


def test_yen_has_no_minor_unit():
    renewal = quote(unit_price="1234", seats=3, tax_rate="10", currency="JPY")
    assert renewal.charge == Money(Decimal("3702"), "JPY")
    assert renewal.tax == Money(Decimal("370"), "JPY")  # 370.2 → 370
    assert renewal.amount_due == Money(Decimal("4072"), "JPY")


def test_credit_pays_first():
    renewal = quote(credit="100.00")
    assert (renewal.credit_applied, renewal.amount_due) == (eur("100.00"), eur("399.80"))


def test_credit_larger_than_the_total_pays_it_all_and_the_rest_stays():
    renewal = quote(credit="600.00")
    assert (renewal.credit_applied, renewal.amount_due, renewal.credit_added) == (
        eur("499.80"),
        eur("0.00"),
        eur("0.00"),
    )


def test_a_free_plan_renews_for_nothing():
    renewal = quote(unit_price="0", credit="5.00")
    assert (renewal.total, renewal.credit_applied, renewal.amount_due) == (
        eur("0.00"),
        eur("0.00"),
        eur("0.00"),
    )


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"seats": 0}, InvalidSeatCount, "seats must be at least 1"),
        ({"seats": True}, InvalidSeatCount, "whole number"),
        ({"seats": 2.5}, InvalidSeatCount, "whole number"),
        ({"seats": 10**9 + 1}, InvalidSeatCount, "more than"),
        ({"unit_price": eur("-1.00")}, InvalidUnitPrice, "cannot be negative"),
        ({"unit_price": Decimal("42")}, InvalidUnitPrice, "must be a Money amount"),
        ({"account_credit": eur("-0.01")}, InvalidAccountCredit, "cannot be negative"),
        ({"account_credit": eur("0.001")}, InvalidAccountCredit, "more decimals"),
        ({"account_credit": Money("5", "USD")}, MixedCurrencies, "different currencies"),
        ({"tax_rate": Decimal("-1")}, InvalidTaxRate, "cannot be negative"),
        ({"tax_rate": Decimal("100.5")}, InvalidTaxRate, "at most 100"),
        ({"tax_rate": 19.0}, InvalidTaxRate, "Decimal percentage"),
        ({"tax_rate": Decimal("NaN")}, InvalidTaxRate, "finite"),
    ],
)
def test_bad_arguments_are_refused_with_a_reason(arguments, error, message):
    values = {
        "unit_price": eur("42.00"),
        "seats": 10,
        "tax_rate": Decimal("19"),
        "account_credit": eur("0"),
    }
    values.update(arguments)
    with pytest.raises(error, match=message) as raised:
        quote_renewal(**values)
    assert isinstance(raised.value, QuoteError)
    assert isinstance(raised.value, ValueError)


def test_a_price_with_more_digits_than_can_be_computed_exactly_is_refused():
    with pytest.raises(InvalidUnitPrice, match="more digits"):
        quote_renewal(
            unit_price=eur("0." + "1" * 70),
            seats=3,
            tax_rate=Decimal("19"),
            account_credit=eur("0"),
        )


cents = st.integers(min_value=0, max_value=10**9).map(lambda c: Decimal(c).scaleb(-2))


@given(
    price=cents,
    seats=st.integers(min_value=1, max_value=10_000),
    rate=st.decimals(min_value=0, max_value=100, places=2),
    credit=cents,
)
def test_credit_and_amount_due_always_add_up_to_the_total(price, seats, rate, credit):
    renewal = quote_renewal(
        unit_price=eur(str(price)), seats=seats, tax_rate=rate, account_credit=eur(str(credit))
    )
    assert renewal.total == renewal.charge + renewal.tax
    assert renewal.credit_applied + renewal.amount_due == renewal.total
    assert renewal.credit_applied.amount <= credit
    assert renewal.amount_due.amount >= 0
    assert renewal.credit_added.amount == 0
    for line in (renewal.charge, renewal.tax, renewal.amount_due):
        assert line.amount == line.amount.quantize(Decimal("0.01"))
