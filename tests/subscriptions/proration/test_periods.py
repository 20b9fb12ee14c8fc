"""Calendar arithmetic: periods counted from the anchor, month ends clamped."""

from datetime import datetime, timedelta, timezone

import pytest
from moneyed import Money

from subscriptions.proration import (
    NaiveDatetime,
    UnknownInterval,
    add_months,
    period_containing,
    period_end,
)
from tests.subscriptions.proration.contract import MICROSECOND, assert_lines, quote, utc

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
