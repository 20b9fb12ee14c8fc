"""The rounding helper of docs/billing-rules.md, "Money".

Pure tests: no database, no Django. Every expected value is worked out by
hand from the rules (ROUND_HALF_UP = ties away from zero, to the currency's
minor unit), never by calling the code under test.
"""

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moneyed import Money, get_currency

from subscriptions.money import (
    CurrencyMismatch,
    minor_unit_places,
    require_same_currency,
    round_half_up,
    round_money,
)


def assert_amount(money: Money, expected: str, currency: str) -> None:
    """Same currency, same value and the same number of decimals as ``expected``."""
    assert money.currency.code == currency
    assert str(money.amount) == expected, f"{money.amount!r} != {expected}"


# -- minor_unit_places -----------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "places"),
    [("EUR", 2), ("USD", 2), ("GBP", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3)],
)
def test_minor_unit_places_from_code(code, places):
    assert minor_unit_places(code) == places


def test_minor_unit_places_accepts_a_currency_object():
    assert minor_unit_places(get_currency("EUR")) == 2
    assert minor_unit_places(get_currency("JPY")) == 0
    assert minor_unit_places(get_currency("KWD")) == 3


# -- round_half_up: ties away from zero --------------------------------------------


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        # Ties where ROUND_HALF_EVEN (banker's rounding) would go the other way.
        (Decimal("0.125"), 2, Decimal("0.13")),  # half-even: 0.12
        (Decimal("-0.125"), 2, Decimal("-0.13")),  # away from zero, not towards +inf (-0.12)
        (Decimal("0.285"), 2, Decimal("0.29")),  # 1.50 x 19 % = 0.285; half-even: 0.28
        (Decimal("-0.285"), 2, Decimal("-0.29")),  # -1.50 x 19 %; half-even: -0.28
        (Decimal("1.005"), 2, Decimal("1.01")),  # the float 1.005 is 1.00499..., Decimal is exact
        (Fraction(5, 2), 0, Decimal("3")),  # 2.5 -> 3 (half-even: 2)
        (Fraction(-5, 2), 0, Decimal("-3")),  # -2.5 -> -3
        (Fraction(1, 2), 0, Decimal("1")),
        (Fraction(-1, 2), 0, Decimal("-1")),
        (Decimal("0.0835"), 3, Decimal("0.084")),  # KWD tie: 1.670 x 5 % = 0.0835
        (Decimal("-0.0835"), 3, Decimal("-0.084")),
        # Not ties: nearest wins.
        (Decimal("0.124999"), 2, Decimal("0.12")),
        (Decimal("-0.124999"), 2, Decimal("-0.12")),
        (Decimal("0.125001"), 2, Decimal("0.13")),
        (Fraction(1, 3), 2, Decimal("0.33")),  # 0.333...
        (Fraction(2, 3), 2, Decimal("0.67")),  # 0.666...
        (Fraction(-2, 3), 2, Decimal("-0.67")),
        (Fraction(1, 3), 3, Decimal("0.333")),
        (Fraction(1, 3), 0, Decimal("0")),
        # A JPY credit: 1 seat x 1001 yen x 1/2 = 500.5 -> 501.
        (Fraction(1001, 2), 0, Decimal("501")),
        (0, 2, Decimal("0")),
        (7, 2, Decimal("7")),
        (-7, 0, Decimal("-7")),
    ],
)
def test_round_half_up(value, places, expected):
    assert round_half_up(value, places) == expected


def test_round_half_up_does_not_round_a_fraction_in_between():
    # 1/3 of 990.00 is exactly 330.00. Rounding 1/3 first (0.33 or 0.3333) would
    # give 326.70 or 329.967 -> 329.97.
    assert round_half_up(Fraction(1, 3) * 990, 2) == Decimal("330.00")
    # Even a 10-digit fraction is not enough for a large amount:
    # 2/3 x 10^12 = 666,666,666,666.666... -> 666,666,666,666.67,
    # while 0.6666666667 x 10^12 = 666,666,666,700.00.
    assert round_half_up(Fraction(2, 3) * 10**12, 2) == Decimal("666666666666.67")


def test_round_half_up_is_exact_for_large_values():
    # 10,000 seats x 999,999,999.99 = 9,999,999,999,900.00; x 19 % = 1,899,999,999,981.00.
    value = Fraction(Decimal("999999999.99")) * 10_000 * Fraction(19, 100)
    assert round_half_up(value, 2) == Decimal("1899999999981.00")


@given(
    st.decimals(
        min_value=Decimal("-1e12"),
        max_value=Decimal("1e12"),
        allow_nan=False,
        allow_infinity=False,
        places=6,
    ),
    st.sampled_from([0, 2, 3]),
)
def test_round_half_up_agrees_with_decimal_round_half_up(value, places):
    # Python's decimal ROUND_HALF_UP is "ties away from zero": the rules' definition.
    expected = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    assert round_half_up(value, places) == expected


@given(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 2, 3]),
)
def test_a_decimal_rounds_as_the_same_value_as_a_fraction_would(value, places):
    # Decimals take a faster path than fractions; both are the one rule.
    assert round_half_up(value, places) == round_half_up(Fraction(value), places)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1E+5"), "100000.00"),  # a positive exponent keeps every digit
        (Decimal("123456789012345678901234567890.005"), "123456789012345678901234567890.01"),
        (Decimal("-0.004"), "0.00"),  # never a negative zero on a receipt
    ],
)
def test_round_half_up_edges(value, expected):
    assert str(round_half_up(value, 2)) == expected


# -- round_money -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (Decimal("274.885"), "EUR", "274.89"),  # tie, away from zero
        (Decimal("-274.885"), "EUR", "-274.89"),
        (Decimal("274.884999"), "EUR", "274.88"),
        (Fraction(126, 1), "EUR", "126.00"),  # fixed exponent: 2 decimals
        (0, "EUR", "0.00"),
        (0, "USD", "0.00"),
        (Decimal("1800.5"), "JPY", "1801"),  # 0 decimals, tie up
        (Decimal("-1800.5"), "JPY", "-1801"),
        (Decimal("1800.4999"), "JPY", "1800"),
        (0, "JPY", "0"),
        (Fraction(4, 3), "KWD", "1.333"),  # 2 seats x 1.000 KWD x 2/3 = 1.3333...
        (Decimal("0.0835"), "KWD", "0.084"),  # tie at the third decimal
        (Decimal("-0.0835"), "KWD", "-0.084"),
        (0, "KWD", "0.000"),
        (Decimal("12"), "KWD", "12.000"),
    ],
)
def test_round_money(value, currency, expected):
    assert_amount(round_money(value, currency), expected, currency)


def test_round_money_accepts_a_currency_object():
    assert_amount(round_money(Fraction(1, 3), get_currency("EUR")), "0.33", "EUR")


def test_round_money_returns_money():
    assert isinstance(round_money(Decimal("1"), "EUR"), Money)


# -- require_same_currency -----------------------------------------------------------


def test_require_same_currency_returns_the_common_currency():
    currency = require_same_currency(Money("1.00", "EUR"), Money("0", "EUR"), Money("3", "EUR"))
    assert currency == get_currency("EUR")


def test_require_same_currency_with_one_amount():
    assert require_same_currency(Money("5", "JPY")) == get_currency("JPY")


def test_mixed_currencies_are_an_error_naming_both():
    with pytest.raises(CurrencyMismatch) as excinfo:
        require_same_currency(Money("42.00", "EUR"), Money("0", "USD"))
    message = str(excinfo.value)
    assert "EUR" in message
    assert "USD" in message
    assert "currenc" in message.lower()


def test_mixed_currencies_among_three_amounts():
    with pytest.raises(CurrencyMismatch, match="JPY"):
        require_same_currency(Money("1", "EUR"), Money("1", "EUR"), Money("1", "JPY"))


def test_currency_mismatch_is_a_value_error():
    assert issubclass(CurrencyMismatch, ValueError)
