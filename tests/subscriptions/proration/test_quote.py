"""Seat-change quotes: the contract example, decreases, account credit, new subscriptions."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

from moneyed import Money

from tests.subscriptions.proration.contract import (
    NOV_1,
    NOV_16,
    NOV_26_NOON,
    assert_lines,
    quote,
    utc,
)

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
