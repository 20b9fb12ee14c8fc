"""Rounding once per line, in currencies with 0, 2 and 3 decimals, down to the microsecond."""

from decimal import Decimal

from moneyed import Money

from tests.subscriptions.proration.contract import (
    DEC_1,
    MICROSECOND,
    NOV_1,
    NOV_16,
    SECOND,
    assert_lines,
    quote,
    utc,
)

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
