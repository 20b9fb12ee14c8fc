"""Arguments the rules refuse, with a QuoteError that says what is wrong."""

from datetime import date
from decimal import Decimal

import pytest
from moneyed import Money

from subscriptions.proration import (
    InvalidAccountCredit,
    InvalidSeatCount,
    InvalidTaxRate,
    InvalidUnitPrice,
    MixedCurrencies,
    NaiveDatetime,
    NoSeatChange,
    OutsidePeriod,
    QuoteError,
    UnknownInterval,
    validate_new_seats,
)
from tests.subscriptions.proration.contract import CONTRACT, DEC_1, MICROSECOND, NOV_1, quote, utc

# -- Bad arguments: a ValueError subclass that says what is wrong --------------------------


def assert_refused(error: type[QuoteError], match: str, **overrides) -> None:
    with pytest.raises(ValueError, match=match) as excinfo:
        quote(**overrides)
    assert isinstance(excinfo.value, error)
    assert isinstance(excinfo.value, QuoteError)
    assert type(excinfo.value) is not ValueError


@pytest.mark.parametrize("new_seats", [0, -1, -10_000])
def test_new_seats_below_one(new_seats):
    assert_refused(InvalidSeatCount, r"new_seats.*at least 1", new_seats=new_seats)


@pytest.mark.parametrize("new_seats", [7.0, "7", Decimal("7"), None])
def test_new_seats_not_an_int(new_seats):
    assert_refused(InvalidSeatCount, r"new_seats.*whole number", new_seats=new_seats)


@pytest.mark.parametrize("new_seats", [True, False])
def test_new_seats_bool(new_seats):
    # True == 1, but a bool is not a seat count.
    assert_refused(InvalidSeatCount, r"new_seats.*whole number", new_seats=new_seats)


def test_current_seats_negative():
    assert_refused(InvalidSeatCount, r"current_seats.*at least 0", current_seats=-1)


def test_current_seats_not_an_int():
    assert_refused(InvalidSeatCount, r"current_seats.*whole number", current_seats=10.0)


def test_no_change():
    assert_refused(NoSeatChange, r"current_seats \(10\)", new_seats=10)


def test_at_before_the_period_start():
    assert_refused(OutsidePeriod, r"outside the current period", at=NOV_1 - MICROSECOND)


def test_at_equal_to_the_period_end():
    # [start, end) is half-open: the end instant belongs to the next period.
    assert_refused(OutsidePeriod, r"outside the current period", at=DEC_1)


def test_at_after_the_period_end():
    assert_refused(OutsidePeriod, r"outside the current period", at=utc(2026, 12, 15))


@pytest.mark.parametrize("end", [NOV_1, NOV_1 - MICROSECOND])
def test_period_end_not_after_start(end):
    assert_refused(OutsidePeriod, r"period must end after it starts", period_end=end, at=NOV_1)


@pytest.mark.parametrize("argument", ["period_start", "period_end", "at"])
def test_naive_datetimes(argument):
    naive = CONTRACT[argument].replace(tzinfo=None)
    assert_refused(NaiveDatetime, rf"^{argument} .*naive", **{argument: naive})


def test_date_instead_of_datetime():
    assert_refused(NaiveDatetime, r"^at must be a datetime", at=date(2026, 11, 26))


def test_mixed_currencies():
    with pytest.raises(ValueError, match=r"(?i)currenc") as excinfo:
        quote(unit_price=Money("42.00", "EUR"), account_credit=Money("0", "USD"))
    assert isinstance(excinfo.value, MixedCurrencies)
    assert "EUR" in str(excinfo.value)
    assert "USD" in str(excinfo.value)


def test_negative_tax_rate():
    assert_refused(InvalidTaxRate, r"tax_rate.*negative", tax_rate=Decimal("-19"))


def test_float_tax_rate():
    assert_refused(InvalidTaxRate, r"tax_rate.*Decimal", tax_rate=19.0)


@pytest.mark.parametrize("tax_rate", [Decimal("NaN"), Decimal("Infinity"), "nineteen", None])
def test_tax_rate_not_a_finite_number(tax_rate):
    assert_refused(InvalidTaxRate, r"tax_rate", tax_rate=tax_rate)


def test_negative_account_credit():
    assert_refused(
        InvalidAccountCredit, r"account_credit.*negative", account_credit=Money("-0.01", "EUR")
    )


def test_account_credit_not_money():
    assert_refused(InvalidAccountCredit, r"account_credit.*Money", account_credit=Decimal("0"))


def test_negative_unit_price():
    assert_refused(InvalidUnitPrice, r"unit_price.*negative", unit_price=Money("-42.00", "EUR"))


def test_unit_price_not_money():
    assert_refused(InvalidUnitPrice, r"unit_price.*Money", unit_price=Decimal("42.00"))


@pytest.mark.parametrize("interval", ["week", None, "", "months"])
def test_unknown_interval(interval):
    assert_refused(UnknownInterval, r"interval", interval=interval)


def test_unknown_interval_names_the_value():
    assert_refused(UnknownInterval, r"interval 'week'", interval="week")


def test_quote_errors_are_value_errors():
    for error in (
        QuoteError,
        InvalidSeatCount,
        NoSeatChange,
        UnknownInterval,
        NaiveDatetime,
        OutsidePeriod,
        InvalidTaxRate,
        InvalidAccountCredit,
        InvalidUnitPrice,
        MixedCurrencies,
    ):
        assert issubclass(error, ValueError)


def test_absurd_seat_counts_and_prices_are_refused_not_rounded():
    # Beyond these bounds a line would no longer be exact in the quote's
    # 60-digit context; the quote says so instead of rounding silently.
    assert_refused(InvalidSeatCount, "more than 1000000000 seats", new_seats=10**20)
    assert_refused(
        InvalidUnitPrice, "larger than the portal handles", unit_price=Money("1e19", "EUR")
    )


def test_credit_finer_than_the_minor_unit_is_refused():
    # A balance is a sum of rounded entries; 0.005 could otherwise pay 0.01.
    assert_refused(
        InvalidAccountCredit, "more decimals than EUR allows", account_credit=Money("0.005", "EUR")
    )


def test_a_tax_rate_above_100_percent_is_refused():
    assert_refused(InvalidTaxRate, "at most 100", tax_rate=Decimal("1000"))


def test_a_price_too_precise_to_compute_exactly_is_refused():
    assert_refused(InvalidUnitPrice, "exactly", unit_price=Money("1." + "3" * 70, "EUR"))


# -- validate_new_seats --------------------------------------------------------------------


def validate(**overrides) -> None:
    arguments = {
        "current_seats": 10,
        "new_seats": 7,
        "assigned_seats": 5,
        "min_seats": 1,
        "max_seats": 50,
    }
    validate_new_seats(**{**arguments, **overrides})


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"new_seats": 5},  # exactly the assigned seats
        {"new_seats": 50},  # exactly the maximum
        {"new_seats": 3, "assigned_seats": 0, "min_seats": 3},  # exactly the minimum
        {"new_seats": 1, "assigned_seats": 0},  # exactly 1
        {"new_seats": 11},  # an increase
    ],
)
def test_validate_new_seats_accepts(overrides):
    assert validate(**overrides) is None


@pytest.mark.parametrize("new_seats", [0, -1])
def test_validate_new_seats_below_one(new_seats):
    with pytest.raises(InvalidSeatCount, match="at least 1"):
        validate(new_seats=new_seats, assigned_seats=0)


def test_validate_new_seats_below_the_plan_minimum():
    with pytest.raises(InvalidSeatCount, match="at least 5"):
        validate(new_seats=4, min_seats=5, assigned_seats=0)


def test_validate_new_seats_above_the_plan_maximum():
    with pytest.raises(InvalidSeatCount, match="at most 50"):
        validate(new_seats=51)


def test_validate_new_seats_below_the_assigned_seats_names_the_count():
    with pytest.raises(InvalidSeatCount, match=r"\b8\b.*assigned") as excinfo:
        validate(new_seats=7, assigned_seats=8)
    assert isinstance(excinfo.value, ValueError)


def test_validate_new_seats_no_change():
    with pytest.raises(NoSeatChange, match=r"already has 10"):
        validate(new_seats=10)


@pytest.mark.parametrize("new_seats", [7.0, "7", True])
def test_validate_new_seats_not_a_whole_number(new_seats):
    with pytest.raises(InvalidSeatCount, match="whole number"):
        validate(new_seats=new_seats)
