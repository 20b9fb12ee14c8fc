"""Properties over random seat changes, checked against a reference model of the rules."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import assume, given
from hypothesis import strategies as st
from moneyed import Money

from subscriptions.proration import (
    SeatChangeQuote,
    period_containing,
    quote_seat_change,
)
from tests.subscriptions.proration.contract import AMOUNT_FIELDS, MICROSECOND

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
