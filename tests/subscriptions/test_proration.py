"""The seat-change rules of docs/billing-rules.md.

Pure tests: no database, no Django. Every expected number is worked out by hand
from the rules text (the arithmetic is in a comment next to it), never by calling
the code under test. Rounding is ROUND_HALF_UP (ties away from zero), once per
line: credit, charge, tax.
"""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
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
    SeatChangeQuote,
    UnknownInterval,
    add_months,
    period_containing,
    period_end,
    quote_seat_change,
    validate_new_seats,
)

MICROSECOND = timedelta(microseconds=1)
SECOND = timedelta(seconds=1)

# The contract period of docs/billing-rules.md: Nov 1 -> Dec 1 2026 is 30 days.
NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)
NOV_16 = datetime(2026, 11, 16, tzinfo=UTC)  # halfway: 15 of 30 days left
NOV_26_NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # 4.5 of 30 days left = 0.15

CONTRACT = {
    "unit_price": Money("42.00", "EUR"),
    "interval": "month",
    "current_seats": 10,
    "new_seats": 7,
    "period_start": NOV_1,
    "period_end": DEC_1,
    "at": NOV_26_NOON,
    "tax_rate": Decimal("19"),
    "account_credit": Money("0", "EUR"),
}

AMOUNT_FIELDS = (
    "credit",
    "charge",
    "subtotal",
    "tax",
    "total",
    "credit_applied",
    "amount_due",
    "credit_added",
)


def quote(**overrides) -> SeatChangeQuote:
    """The contract example of docs/billing-rules.md with some arguments replaced."""
    return quote_seat_change(**{**CONTRACT, **overrides})


def assert_amount(money: Money, expected: str, currency: str = "EUR") -> None:
    """Same currency, same value, and as many decimals as the currency's minor unit."""
    assert isinstance(money, Money)
    assert money.currency.code == currency
    assert str(money.amount) == expected, f"{money.amount!r} != {expected}"


def assert_lines(q: SeatChangeQuote, currency: str = "EUR", **expected: str) -> None:
    for field, value in expected.items():
        assert_amount(getattr(q, field), value, currency)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- The contract example --------------------------------------------------------------


def test_contract_example():
    # Nov 26 12:00 -> Dec 1 is 4.5 days of 30: 0.15 of the period is unused.
    # credit   = 10 x 42.00 x 0.15 = 63.00
    # charge   =  7 x 42.00        = 294.00
    # subtotal = 294.00 - 63.00    = 231.00
    # tax      = 231.00 x 19 %     = 43.89
    # total    = 231.00 + 43.89    = 274.89, no account credit: all of it is due.
    q = quote()
    assert_lines(
        q,
        credit="63.00",
        charge="294.00",
        subtotal="231.00",
        tax="43.89",
        total="274.89",
        credit_applied="0.00",
        amount_due="274.89",
        credit_added="0.00",
    )
    assert q.new_period_start == NOV_26_NOON
    assert q.new_period_end == utc(2026, 12, 26, 12, 0)
    assert q.new_period_start.utcoffset() == timedelta(0)
    assert q.new_period_end.utcoffset() == timedelta(0)
    assert q.unused_fraction == Fraction(3, 20)
    assert q.currency == "EUR"


def test_contract_example_with_an_instant_in_another_time_zone():
    # 13:00 at UTC+1 is the same instant as 12:00 UTC: same numbers, periods in UTC.
    q = quote(at=datetime(2026, 11, 26, 13, 0, tzinfo=timezone(timedelta(hours=1))))
    assert_lines(q, credit="63.00", total="274.89", amount_due="274.89")
    assert q.new_period_start == NOV_26_NOON
    assert q.new_period_start.utcoffset() == timedelta(0)
    assert q.new_period_end == utc(2026, 12, 26, 12, 0)
    assert q.new_period_end.utcoffset() == timedelta(0)


def test_tax_rate_may_be_given_with_decimals():
    # Same as the contract with 19.00 %: tax = 231.00 x 0.19 = 43.89.
    assert_lines(quote(tax_rate=Decimal("19.00")), tax="43.89", total="274.89")


def test_zero_tax_rate():
    # Customer outside the EU: tax 0.00, total = subtotal = 231.00.
    assert_lines(quote(tax_rate=Decimal("0")), tax="0.00", total="231.00", amount_due="231.00")


# -- Seat decreases: a negative total becomes account credit --------------------------


def test_decrease_with_a_negative_total_adds_credit():
    # At Nov 16 00:00 half of the 30-day period is left.
    # credit   = 10 x 42.00 x 1/2 = 210.00
    # charge   =  2 x 42.00       =  84.00
    # subtotal = 84.00 - 210.00   = -126.00
    # tax      = -126.00 x 19 %   = -23.94
    # total    = -149.94 -> nothing due, 149.94 added to the credit balance.
    # The account's existing credit (50.00) is not touched.
    q = quote(new_seats=2, at=NOV_16, account_credit=Money("50.00", "EUR"))
    assert_lines(
        q,
        credit="210.00",
        charge="84.00",
        subtotal="-126.00",
        tax="-23.94",
        total="-149.94",
        credit_applied="0.00",
        amount_due="0.00",
        credit_added="149.94",
    )
    assert q.new_period_start == NOV_16
    assert q.new_period_end == utc(2026, 12, 16)


def test_total_exactly_zero():
    # Half the period left: credit = 10 x 42.00 x 1/2 = 210.00; charge = 5 x 42.00 = 210.00.
    # subtotal 0.00, tax 0.00, total 0.00: nothing charged, nothing credited, and the
    # account's credit (100.00) is not used.
    q = quote(new_seats=5, at=NOV_16, account_credit=Money("100.00", "EUR"))
    assert_lines(
        q,
        credit="210.00",
        charge="210.00",
        subtotal="0.00",
        tax="0.00",
        total="0.00",
        credit_applied="0.00",
        amount_due="0.00",
        credit_added="0.00",
    )


# -- Account credit pays first ------------------------------------------------------------


def test_account_credit_pays_part_of_the_total():
    # Contract total 274.89; credit balance 100.00 pays 100.00; 274.89 - 100.00 = 174.89 due.
    q = quote(account_credit=Money("100.00", "EUR"))
    assert_lines(
        q, total="274.89", credit_applied="100.00", amount_due="174.89", credit_added="0.00"
    )


def test_account_credit_pays_all_of_the_total():
    # Credit balance 500.00 >= 274.89: min(500.00, 274.89) = 274.89 applied, 0.00 due.
    q = quote(account_credit=Money("500.00", "EUR"))
    assert_lines(q, total="274.89", credit_applied="274.89", amount_due="0.00", credit_added="0.00")


def test_account_credit_equal_to_the_total():
    q = quote(account_credit=Money("274.89", "EUR"))
    assert_lines(q, credit_applied="274.89", amount_due="0.00", credit_added="0.00")


def test_account_credit_one_cent_short():
    # 274.89 - 274.88 = 0.01 due.
    q = quote(account_credit=Money("274.88", "EUR"))
    assert_lines(q, credit_applied="274.88", amount_due="0.01", credit_added="0.00")


# -- A new subscription is a change from 0 seats ------------------------------------------------


def test_change_from_zero_seats_has_no_credit():
    # credit = 0 x 42.00 x 0.15 = 0.00; charge = 5 x 42.00 = 210.00;
    # tax = 210.00 x 19 % = 39.90; total 249.90.
    q = quote(current_seats=0, new_seats=5)
    assert_lines(
        q,
        credit="0.00",
        charge="210.00",
        subtotal="210.00",
        tax="39.90",
        total="249.90",
        credit_applied="0.00",
        amount_due="249.90",
        credit_added="0.00",
    )
    assert q.new_period_start == NOV_26_NOON
    assert q.new_period_end == utc(2026, 12, 26, 12, 0)


def test_change_from_zero_seats_at_period_start():
    # Even with the whole period left, 0 seats x anything = 0.00.
    q = quote(current_seats=0, new_seats=1, at=NOV_1)
    assert_lines(q, credit="0.00", charge="42.00", tax="7.98", total="49.98")


# -- Calendar arithmetic ------------------------------------------------------------------------


def test_month_end_clamping_from_an_anchor_on_the_31st():
    # The rules' example, with a time of day that must be kept (to the microsecond).
    anchor = utc(2026, 1, 31, 10, 15, 30, 123456)
    assert period_end(anchor, "month") == utc(2026, 2, 28, 10, 15, 30, 123456)
    assert period_end(anchor, "month", 1) == utc(2026, 2, 28, 10, 15, 30, 123456)
    assert period_end(anchor, "month", 2) == utc(2026, 3, 31, 10, 15, 30, 123456)
    assert period_end(anchor, "month", 3) == utc(2026, 4, 30, 10, 15, 30, 123456)
    assert period_end(anchor, "month", 4) == utc(2026, 5, 31, 10, 15, 30, 123456)
    assert period_end(anchor, "month", 11) == utc(2026, 12, 31, 10, 15, 30, 123456)
    assert period_end(anchor, "month", 13) == utc(2027, 2, 28, 10, 15, 30, 123456)


def test_month_end_clamping_in_a_leap_year():
    anchor = utc(2028, 1, 31, 23, 59, 59, 999999)
    assert period_end(anchor, "month") == utc(2028, 2, 29, 23, 59, 59, 999999)
    assert period_end(anchor, "month", 2) == utc(2028, 3, 31, 23, 59, 59, 999999)


def test_period_ends_are_counted_from_the_anchor_not_from_the_previous_end():
    # Feb 28 + 1 month would be Mar 28; counted from the Jan 31 anchor it is Mar 31.
    anchor = utc(2026, 1, 31)
    assert add_months(period_end(anchor, "month"), 1) == utc(2026, 3, 28)
    assert period_end(anchor, "month", 2) == utc(2026, 3, 31)


def test_add_months():
    assert add_months(utc(2026, 1, 31, 10), 1) == utc(2026, 2, 28, 10)
    assert add_months(utc(2026, 1, 31, 10), 2) == utc(2026, 3, 31, 10)
    assert add_months(utc(2026, 1, 31, 10), 3) == utc(2026, 4, 30, 10)
    assert add_months(utc(2026, 12, 15), 1) == utc(2027, 1, 15)  # across the year end
    assert add_months(utc(2026, 11, 30), 3) == utc(2027, 2, 28)
    assert add_months(utc(2026, 3, 31), -1) == utc(2026, 2, 28)
    assert add_months(utc(2026, 5, 15, 8, 30), 0) == utc(2026, 5, 15, 8, 30)


def test_yearly_anchor_on_february_29():
    anchor = utc(2028, 2, 29, 9, 0)
    assert period_end(anchor, "year") == utc(2029, 2, 28, 9, 0)  # 2029 is not a leap year
    assert period_end(anchor, "year", 2) == utc(2030, 2, 28, 9, 0)
    assert period_end(anchor, "year", 3) == utc(2031, 2, 28, 9, 0)
    assert period_end(anchor, "year", 4) == utc(2032, 2, 29, 9, 0)  # back to the 29th


def test_period_end_converts_to_utc():
    # 2026-01-31 23:30 at UTC-2 is 2026-02-01 01:30 UTC; one month later: 2026-03-01 01:30 UTC.
    anchor = datetime(2026, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    end = period_end(anchor, "month")
    assert end == utc(2026, 3, 1, 1, 30)
    assert end.utcoffset() == timedelta(0)


def test_period_containing_the_anchor_itself():
    anchor = utc(2026, 1, 31, 10)
    assert period_containing(anchor, "month", anchor) == (anchor, utc(2026, 2, 28, 10))


def test_period_containing_at_the_exact_end_is_the_next_period():
    # Periods are half-open [start, end): the end instant belongs to the next period.
    anchor = utc(2026, 1, 31, 10)
    feb_28 = utc(2026, 2, 28, 10)
    assert period_containing(anchor, "month", feb_28) == (feb_28, utc(2026, 3, 31, 10))
    assert period_containing(anchor, "month", feb_28 - MICROSECOND) == (anchor, feb_28)


def test_period_containing_later_periods():
    anchor = utc(2026, 1, 31, 10)
    # Ends: Feb 28, Mar 31, Apr 30, ..., 2027-02-28, 2027-03-31.
    assert period_containing(anchor, "month", utc(2026, 3, 30)) == (
        utc(2026, 2, 28, 10),
        utc(2026, 3, 31, 10),
    )
    assert period_containing(anchor, "month", utc(2026, 3, 31, 10)) == (
        utc(2026, 3, 31, 10),
        utc(2026, 4, 30, 10),
    )
    assert period_containing(anchor, "month", utc(2027, 3, 15)) == (
        utc(2027, 2, 28, 10),
        utc(2027, 3, 31, 10),
    )
    # Mar 31 10:00 is the end of the 2027-02-28 period; 1 µs earlier is still inside it.
    assert period_containing(anchor, "month", utc(2027, 3, 31, 9, 59, 59, 999999)) == (
        utc(2027, 2, 28, 10),
        utc(2027, 3, 31, 10),
    )


def test_period_containing_with_a_february_29_yearly_anchor():
    anchor = utc(2028, 2, 29)
    assert period_containing(anchor, "year", utc(2029, 2, 27, 23, 59, 59, 999999)) == (
        anchor,
        utc(2029, 2, 28),
    )
    assert period_containing(anchor, "year", utc(2029, 2, 28)) == (
        utc(2029, 2, 28),
        utc(2030, 2, 28),
    )
    assert period_containing(anchor, "year", utc(2032, 2, 28, 23, 59)) == (
        utc(2031, 2, 28),
        utc(2032, 2, 29),
    )
    assert period_containing(anchor, "year", utc(2032, 2, 29)) == (
        utc(2032, 2, 29),
        utc(2033, 2, 28),
    )


def test_period_containing_before_the_anchor_is_refused():
    with pytest.raises(ValueError, match="before the billing anchor"):
        period_containing(utc(2026, 1, 31), "month", utc(2026, 1, 30, 23, 59, 59, 999999))


@pytest.mark.parametrize("interval", ["week", None, "", "months"])
def test_period_functions_refuse_an_unknown_interval(interval):
    with pytest.raises(UnknownInterval, match="interval"):
        period_end(utc(2026, 1, 1), interval)
    with pytest.raises(UnknownInterval, match="interval"):
        period_containing(utc(2026, 1, 1), interval, utc(2026, 2, 1))


def test_period_functions_refuse_naive_datetimes():
    with pytest.raises(NaiveDatetime, match="anchor"):
        period_end(datetime(2026, 1, 1), "month")
    with pytest.raises(NaiveDatetime, match="anchor"):
        period_containing(datetime(2026, 1, 1), "month", utc(2026, 2, 1))
    with pytest.raises(NaiveDatetime, match="at"):
        period_containing(utc(2026, 1, 1), "month", datetime(2026, 2, 1))


def test_change_on_january_31_starts_a_period_ending_february_28():
    # Current period Jan 15 00:00 -> Feb 15 00:00 = 31 days = 744 h.
    # At Jan 31 15:00, 14 days 9 h = 345 h are left: 345/744.
    # credit   = 8 x 31.00 x 345/744 = 248 x 345/744 = 345/3 = 115.00
    # charge   = 9 x 31.00 = 279.00; subtotal 164.00
    # tax      = 164.00 x 19 % = 31.16; total 195.16
    # new period [Jan 31 15:00, Feb 28 15:00): clamped, time of day kept.
    q = quote(
        unit_price=Money("31.00", "EUR"),
        current_seats=8,
        new_seats=9,
        period_start=utc(2026, 1, 15),
        period_end=utc(2026, 2, 15),
        at=utc(2026, 1, 31, 15),
    )
    assert_lines(
        q, credit="115.00", charge="279.00", subtotal="164.00", tax="31.16", total="195.16"
    )
    assert q.new_period_start == utc(2026, 1, 31, 15)
    assert q.new_period_end == utc(2026, 2, 28, 15)


def test_yearly_change_on_february_29():
    # Period 2027-06-01 -> 2028-06-01 = 366 days (it contains 2028-02-29).
    # At 2028-02-29 12:00, 0.5 + 31 (Mar) + 30 (Apr) + 31 (May) = 92.5 days are left.
    # credit   = 2 x 366.00 x 92.5/366 = 185.00
    # charge   = 3 x 366.00 = 1098.00; subtotal 913.00
    # tax      = 913.00 x 19 % = 173.47; total 1086.47
    # new period [2028-02-29 12:00, 2029-02-28 12:00).
    q = quote(
        unit_price=Money("366.00", "EUR"),
        interval="year",
        current_seats=2,
        new_seats=3,
        period_start=utc(2027, 6, 1),
        period_end=utc(2028, 6, 1),
        at=utc(2028, 2, 29, 12),
    )
    assert_lines(
        q, credit="185.00", charge="1098.00", subtotal="913.00", tax="173.47", total="1086.47"
    )
    assert q.new_period_start == utc(2028, 2, 29, 12)
    assert q.new_period_end == utc(2029, 2, 28, 12)


# -- Currencies with 0 and 3 decimals -------------------------------------------------------


def test_jpy_has_no_decimals():
    # credit = 10 x 1200 x 0.15 = 1800; charge = 7 x 1200 = 8400; subtotal 6600;
    # tax 10 % = 660; total 7260; credit balance 1000 pays first: 6260 due.
    q = quote(
        unit_price=Money("1200", "JPY"),
        tax_rate=Decimal("10"),
        account_credit=Money("1000", "JPY"),
    )
    assert_lines(
        q,
        "JPY",
        credit="1800",
        charge="8400",
        subtotal="6600",
        tax="660",
        total="7260",
        credit_applied="1000",
        amount_due="6260",
        credit_added="0",
    )


def test_jpy_rounds_to_whole_yen_with_ties_away_from_zero():
    # Half the period left: credit = 1 x 1001 x 1/2 = 500.5 -> 501 (tie, up).
    # charge = 2 x 1001 = 2002; subtotal = 2002 - 501 = 1501;
    # tax = 1501 x 10 % = 150.1 -> 150; total 1651.
    q = quote(
        unit_price=Money("1001", "JPY"),
        current_seats=1,
        new_seats=2,
        at=NOV_16,
        tax_rate=Decimal("10"),
        account_credit=Money("0", "JPY"),
    )
    assert_lines(q, "JPY", credit="501", charge="2002", subtotal="1501", tax="150", total="1651")


def test_jpy_negative_total():
    # Half the period left: credit = 3 x 1001 x 1/2 = 1501.5 -> 1502; charge 1001;
    # subtotal -501; tax 10 % = -50.1 -> -50; total -551 -> 551 credit added.
    q = quote(
        unit_price=Money("1001", "JPY"),
        current_seats=3,
        new_seats=1,
        at=NOV_16,
        tax_rate=Decimal("10"),
        account_credit=Money("0", "JPY"),
    )
    assert_lines(
        q,
        "JPY",
        credit="1502",
        subtotal="-501",
        tax="-50",
        total="-551",
        credit_applied="0",
        amount_due="0",
        credit_added="551",
    )


def test_kwd_has_three_decimals():
    # Nov 11 00:00: 20 of 30 days left = 2/3.
    # credit   = 2 x 1.000 x 2/3 = 1.3333... -> 1.333
    # charge   = 3 x 1.000 = 3.000; subtotal 1.667
    # tax 15 % = 0.25005 -> 0.250; total 1.917
    q = quote(
        unit_price=Money("1.000", "KWD"),
        current_seats=2,
        new_seats=3,
        at=utc(2026, 11, 11),
        tax_rate=Decimal("15"),
        account_credit=Money("0.500", "KWD"),
    )
    assert_lines(
        q,
        "KWD",
        credit="1.333",
        charge="3.000",
        subtotal="1.667",
        tax="0.250",
        total="1.917",
        credit_applied="0.500",
        amount_due="1.417",
        credit_added="0.000",
    )


def test_kwd_tax_tie_rounds_away_from_zero():
    # From 0 seats: charge = 1 x 1.670 = 1.670; tax 5 % = 0.0835 -> 0.084 (tie); total 1.754.
    q = quote(
        unit_price=Money("1.670", "KWD"),
        current_seats=0,
        new_seats=1,
        tax_rate=Decimal("5"),
        account_credit=Money("0", "KWD"),
    )
    assert_lines(q, "KWD", credit="0.000", charge="1.670", tax="0.084", total="1.754")


# -- Rounding: ties away from zero, once per line ---------------------------------------


def test_tax_tie_on_a_positive_subtotal_rounds_up():
    # From 0 seats: subtotal = 1 x 1.50 = 1.50; tax = 1.50 x 19 % = 0.285 -> 0.29
    # (ROUND_HALF_EVEN would give 0.28); total 1.79.
    q = quote(unit_price=Money("1.50", "EUR"), current_seats=0, new_seats=1)
    assert_lines(q, subtotal="1.50", tax="0.29", total="1.79", amount_due="1.79")


def test_tax_tie_on_a_negative_subtotal_rounds_away_from_zero():
    # At the period start the whole period is credited: credit = 2 x 1.50 = 3.00.
    # charge = 1 x 1.50; subtotal -1.50; tax = -0.285 -> -0.29 (ties away from zero;
    # half-even or "half towards +inf" would give -0.28); total -1.79 -> 1.79 credit added.
    q = quote(unit_price=Money("1.50", "EUR"), current_seats=2, new_seats=1, at=NOV_1)
    assert_lines(
        q,
        credit="3.00",
        charge="1.50",
        subtotal="-1.50",
        tax="-0.29",
        total="-1.79",
        amount_due="0.00",
        credit_added="1.79",
    )


def test_credit_tie_rounds_up():
    # Half the period left: credit = 1 x 10.05 x 1/2 = 5.025 -> 5.03 (half-even: 5.02).
    # charge = 2 x 10.05 = 20.10; subtotal 15.07; tax = 2.8633 -> 2.86; total 17.93.
    q = quote(unit_price=Money("10.05", "EUR"), current_seats=1, new_seats=2, at=NOV_16)
    assert_lines(q, credit="5.03", charge="20.10", subtotal="15.07", tax="2.86", total="17.93")


def test_credit_is_rounded_once_not_the_fraction_first():
    # Nov 21 00:00: 10 of 30 days left = 1/3 exactly.
    # credit = 10 x 99.00 x 1/3 = 990.00 / 3 = 330.00.
    # Rounding the fraction first would be wrong: 0.33 x 990.00 = 326.70,
    # 0.3333 x 990.00 = 329.967 -> 329.97.
    # charge = 11 x 99.00 = 1089.00; subtotal 759.00; tax 19 % = 144.21; total 903.21.
    q = quote(
        unit_price=Money("99.00", "EUR"), current_seats=10, new_seats=11, at=utc(2026, 11, 21)
    )
    assert_lines(
        q, credit="330.00", charge="1089.00", subtotal="759.00", tax="144.21", total="903.21"
    )


def test_credit_is_rounded_once_not_per_seat():
    # 1/3 of the period left: credit = 10 x 10.00 x 1/3 = 33.333... -> 33.33.
    # Rounding one seat's credit first: 10.00 / 3 = 3.33, x 10 = 33.30 (3 cents off).
    # charge = 1 x 10.00; subtotal -23.33; tax 19 % = -4.4327 -> -4.43; total -27.76.
    q = quote(unit_price=Money("10.00", "EUR"), current_seats=10, new_seats=1, at=utc(2026, 11, 21))
    assert_lines(
        q,
        credit="33.33",
        charge="10.00",
        subtotal="-23.33",
        tax="-4.43",
        total="-27.76",
        credit_added="27.76",
    )


def test_lines_are_rounded_before_they_are_added():
    # Half the period left: credit = 1 x 0.01 x 1/2 = 0.005 -> 0.01 (tie, up).
    # charge = 2 x 0.01 = 0.02; subtotal = 0.02 - 0.01 = 0.01;
    # tax = 0.01 x 19 % = 0.0019 -> 0.00; total 0.01.
    # Without rounding the credit line first: (0.02 - 0.005) x 1.19 = 0.01785 -> 0.02.
    q = quote(unit_price=Money("0.01", "EUR"), current_seats=1, new_seats=2, at=NOV_16)
    assert_lines(q, credit="0.01", charge="0.02", subtotal="0.01", tax="0.00", total="0.01")


# -- Microsecond instants and the edges of a period -------------------------------------


# 30 days = 2,592,000 s = 2,592,000,000,000 µs. With 10,000 seats x 2,592,000.00 EUR the
# period costs 25,920,000,000.00, i.e. exactly 0.01 per µs of it.
BIG_PRICE = Money("2592000.00", "EUR")


def test_change_one_microsecond_after_the_start_credits_all_but_one_microsecond():
    # credit   = 25,920,000,000.00 - 0.01 = 25,919,999,999.99
    # charge   = 9,999 x 2,592,000.00 = 25,917,408,000.00
    # subtotal = -2,591,999.99; tax 19 % = -492,479.9981 -> -492,480.00
    # total    = -3,084,479.99
    q = quote(unit_price=BIG_PRICE, current_seats=10_000, new_seats=9_999, at=NOV_1 + MICROSECOND)
    assert_lines(
        q,
        credit="25919999999.99",
        charge="25917408000.00",
        subtotal="-2591999.99",
        tax="-492480.00",
        total="-3084479.99",
        credit_added="3084479.99",
        amount_due="0.00",
    )
    assert q.new_period_end == utc(2026, 12, 1, 0, 0, 0, 1)


def test_change_one_microsecond_before_the_end_credits_one_microsecond():
    # credit = 25,920,000,000.00 x 1/2,592,000,000,000 = 0.01
    # subtotal = 25,917,408,000.00 - 0.01 = 25,917,407,999.99
    # tax 19 % = 4,924,307,519.9981 -> 4,924,307,520.00; total 30,841,715,519.99
    q = quote(unit_price=BIG_PRICE, current_seats=10_000, new_seats=9_999, at=DEC_1 - MICROSECOND)
    assert_lines(
        q,
        credit="0.01",
        subtotal="25917407999.99",
        tax="4924307520.00",
        total="30841715519.99",
        amount_due="30841715519.99",
    )
    assert q.new_period_start == DEC_1 - MICROSECOND
    assert q.new_period_end == utc(2026, 12, 30, 23, 59, 59, 999999)  # Nov 30 + 1 month


def test_one_microsecond_of_an_ordinary_subscription_is_worth_nothing():
    # 10 x 42.00 = 420.00 for 2,592,000,000,000 µs: 1 µs is 1.6e-10 -> 0.00,
    # and the whole period less 1 µs is 420.00 - 1.6e-10 -> 420.00.
    assert_lines(quote(at=DEC_1 - MICROSECOND), credit="0.00")
    assert_lines(quote(at=NOV_1 + MICROSECOND), credit="420.00")


def test_change_at_the_period_start_credits_the_whole_period():
    # credit = 10 x 42.00 x 30/30 = 420.00; charge 294.00; subtotal -126.00;
    # tax -23.94; total -149.94.
    q = quote(at=NOV_1)
    assert_lines(q, credit="420.00", subtotal="-126.00", tax="-23.94", total="-149.94")
    assert q.new_period_start == NOV_1
    assert q.new_period_end == DEC_1


def test_first_and_last_second_of_a_period():
    # 1 seat x 2,592,000.00 for 2,592,000 s: 1.00 per second.
    price = Money("2592000.00", "EUR")
    # First second: at = start + 1 s -> 2,591,999 s left -> credit 2,591,999.00.
    first = quote(unit_price=price, current_seats=1, new_seats=2, at=NOV_1 + SECOND)
    assert_lines(first, credit="2591999.00", charge="5184000.00", subtotal="2592001.00")
    # Last second: at = end - 1 s = Nov 30 23:59:59 -> 1 s left -> credit 1.00.
    last = quote(unit_price=price, current_seats=1, new_seats=2, at=utc(2026, 11, 30, 23, 59, 59))
    assert_lines(last, credit="1.00", subtotal="5183999.00")
    # 5,183,999.00 x 19 % = 984,959.81; total 6,168,958.81.
    assert_lines(last, tax="984959.81", total="6168958.81")


# -- Many seats, large prices ------------------------------------------------------------


def test_ten_thousand_seats_from_zero():
    # charge = 10,000 x 42.00 = 420,000.00; tax 19 % = 79,800.00; total 499,800.00.
    q = quote(current_seats=0, new_seats=10_000)
    assert_lines(q, credit="0.00", charge="420000.00", tax="79800.00", total="499800.00")


def test_ten_thousand_to_9999_seats():
    # credit = 10,000 x 42.00 x 0.15 = 63,000.00; charge = 9,999 x 42.00 = 419,958.00;
    # subtotal 356,958.00; tax 19 % = 67,822.02; total 424,780.02.
    q = quote(current_seats=10_000, new_seats=9_999)
    assert_lines(
        q,
        credit="63000.00",
        charge="419958.00",
        subtotal="356958.00",
        tax="67822.02",
        total="424780.02",
    )


def test_large_prices_are_exact():
    # charge = 10,000 x 999,999,999.99 = 9,999,999,999,900.00
    # tax 19 % = 1,899,999,999,981.00; total 11,899,999,999,881.00
    q = quote(unit_price=Money("999999999.99", "EUR"), current_seats=0, new_seats=10_000)
    assert_lines(
        q,
        charge="9999999999900.00",
        tax="1899999999981.00",
        total="11899999999881.00",
        amount_due="11899999999881.00",
    )


def test_very_large_prices_are_exact_beyond_float_precision():
    # A float has ~16 significant digits; these amounts have 20.
    # charge = 10,000 x 12,345,678,901,234.57 = 123,456,789,012,345,700.00
    # tax 19 % = 23,456,789,912,345,683.00; total 146,913,578,924,691,383.00
    q = quote(unit_price=Money("12345678901234.57", "EUR"), current_seats=0, new_seats=10_000)
    assert_lines(
        q,
        charge="123456789012345700.00",
        tax="23456789912345683.00",
        total="146913578924691383.00",
    )


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


# -- Properties -------------------------------------------------------------------------------

PLACES = {"EUR": 2, "USD": 2, "JPY": 0}
MAX_PERIOD_US = 400 * 24 * 3600 * 10**6  # a bit more than a leap year


def ref_round(value: Fraction, places: int) -> Decimal:
    """ROUND_HALF_UP (ties away from zero) in integer arithmetic, for the reference model."""
    scaled = abs(value) * 10**places
    units, remainder = divmod(scaled.numerator, scaled.denominator)
    if 2 * remainder >= scaled.denominator:
        units += 1
    return Decimal(-units if value < 0 else units).scaleb(-places)


def ref_add_months(instant: datetime, months: int) -> datetime:
    """Calendar months, the day clamped to the month's last day; time of day kept."""
    year = instant.year + (instant.month - 1 + months) // 12
    month = (instant.month - 1 + months) % 12 + 1
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    last_day = (first_of_next - timedelta(days=1)).day
    return instant.replace(year=year, month=month, day=min(instant.day, last_day))


def minor_units(currency: str, maximum: int):
    return st.integers(0, maximum).map(lambda n: Decimal(n).scaleb(-PLACES[currency]))


@st.composite
def seat_changes(draw):
    currency = draw(st.sampled_from(sorted(PLACES)))
    interval = draw(st.sampled_from(["month", "year"]))
    start = draw(
        st.datetimes(
            min_value=datetime(2000, 1, 1),
            max_value=datetime(2099, 12, 31),
            timezones=st.just(UTC),
        )
    )
    if draw(st.booleans()):
        # A calendar period, as the portal stores them.
        end = ref_add_months(start, 12 if interval == "year" else 1)
    else:
        end = start + timedelta(microseconds=draw(st.integers(1, MAX_PERIOD_US)))
    length = (end - start) // MICROSECOND
    at = start + timedelta(microseconds=draw(st.integers(0, length - 1)))
    current = draw(st.integers(0, 10_000))
    new = draw(st.integers(1, 10_000))
    assume(new != current)
    return {
        "unit_price": Money(draw(minor_units(currency, 10**8)), currency),
        "interval": interval,
        "current_seats": current,
        "new_seats": new,
        "period_start": start,
        "period_end": end,
        "at": at,
        "tax_rate": Decimal(draw(st.integers(0, 2700))).scaleb(-2),
        "account_credit": Money(draw(minor_units(currency, 10**9)), currency),
    }


def amounts(q: SeatChangeQuote) -> dict[str, Decimal]:
    return {field: getattr(q, field).amount for field in AMOUNT_FIELDS}


@given(seat_changes())
def test_quote_matches_a_reference_model_of_the_rules(change):
    q = quote_seat_change(**change)
    currency = change["unit_price"].currency.code
    places = PLACES[currency]
    price = Fraction(change["unit_price"].amount)
    unused = Fraction(
        (change["period_end"] - change["at"]) // MICROSECOND,
        (change["period_end"] - change["period_start"]) // MICROSECOND,
    )
    credit = ref_round(change["current_seats"] * price * unused, places)
    charge = ref_round(change["new_seats"] * price, places)
    subtotal = charge - credit
    tax = ref_round(Fraction(subtotal) * Fraction(change["tax_rate"]) / 100, places)
    total = subtotal + tax
    if total > 0:
        credit_applied = min(change["account_credit"].amount, total)
        amount_due, credit_added = total - credit_applied, Decimal(0)
    else:
        credit_applied, amount_due, credit_added = Decimal(0), Decimal(0), -total
    assert amounts(q) == {
        "credit": credit,
        "charge": charge,
        "subtotal": subtotal,
        "tax": tax,
        "total": total,
        "credit_applied": credit_applied,
        "amount_due": amount_due,
        "credit_added": credit_added,
    }
    assert all(getattr(q, field).currency.code == currency for field in AMOUNT_FIELDS)


@given(seat_changes())
def test_credit_is_never_negative_and_never_more_than_the_whole_period(change):
    q = quote_seat_change(**change)
    places = PLACES[change["unit_price"].currency.code]
    whole_period = ref_round(
        change["current_seats"] * Fraction(change["unit_price"].amount), places
    )
    assert 0 <= q.credit.amount <= whole_period
    if change["current_seats"] == 0:
        assert q.credit.amount == 0


@given(seat_changes())
def test_total_is_subtotal_plus_tax(change):
    q = quote_seat_change(**change)
    assert q.subtotal == q.charge - q.credit
    assert q.total == q.subtotal + q.tax
    # The tax has the sign of the subtotal (the rate is not negative).
    assert q.tax.amount * q.subtotal.amount >= 0


@given(seat_changes())
def test_settlement(change):
    q = quote_seat_change(**change)
    total = q.total.amount
    assert q.amount_due.amount + q.credit_applied.amount == max(total, 0)
    assert q.credit_added.amount == max(-total, 0)
    assert q.amount_due.amount >= 0
    assert 0 <= q.credit_applied.amount <= change["account_credit"].amount
    # Credit is either used or added, never both.
    assert q.credit_applied.amount == 0 or q.credit_added.amount == 0


@given(seat_changes(), st.integers(1, 10_000))
def test_more_seats_never_lower_the_total(change, more_seats):
    higher = change["new_seats"] + more_seats
    assume(higher != change["current_seats"])
    lower_quote = quote_seat_change(**change)
    higher_quote = quote_seat_change(**{**change, "new_seats": higher})
    assert higher_quote.total.amount >= lower_quote.total.amount
    assert higher_quote.amount_due.amount >= lower_quote.amount_due.amount
    assert higher_quote.credit_added.amount <= lower_quote.credit_added.amount


@given(seat_changes())
def test_every_amount_has_the_minor_unit_exponent(change):
    q = quote_seat_change(**change)
    places = PLACES[change["unit_price"].currency.code]
    for field, amount in amounts(q).items():
        assert amount.as_tuple().exponent == -places, (field, amount)
        assert not (amount.is_zero() and amount.is_signed()), (field, "negative zero")


@given(seat_changes())
def test_new_period_is_one_interval_after_at(change):
    q = quote_seat_change(**change)
    months = 12 if change["interval"] == "year" else 1
    assert q.new_period_start == change["at"]
    assert q.new_period_end == ref_add_months(change["at"], months)
    assert q.new_period_start.utcoffset() == timedelta(0)
    assert q.new_period_end.utcoffset() == timedelta(0)
    assert q.new_period_end > q.new_period_start


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
    ),
    st.sampled_from(["month", "year"]),
    st.integers(0, 40 * 12 * 24 * 3600 * 10**6),
)
def test_period_containing_brackets_the_instant(anchor, interval, offset_us):
    at = anchor + timedelta(microseconds=offset_us)
    start, end = period_containing(anchor, interval, at)
    months = 12 if interval == "year" else 1
    assert start <= at < end
    # Both ends are anchor + n x interval for consecutive n.
    n = (start.year - anchor.year) * 12 + start.month - anchor.month
    assert n % months == 0
    assert start == ref_add_months(anchor, n)
    assert end == ref_add_months(anchor, n + months)


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
