"""A seat change: which seat counts the rules allow, and what the change costs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, Inexact, InvalidOperation, localcontext
from fractions import Fraction

from moneyed import Money

from subscriptions.money import round_money
from subscriptions.proration.amounts import (
    _EXACT,
    MAX_SEATS,
    _require_prices,
    _require_seats,
    settle_total,
)
from subscriptions.proration.errors import (
    InvalidSeatCount,
    InvalidUnitPrice,
    NoSeatChange,
    OutsidePeriod,
)
from subscriptions.proration.periods import (
    _MICROSECOND,
    _require_aware,
    _require_interval,
    add_months,
)


def validate_new_seats(
    *,
    current_seats: int,
    new_seats: int,
    assigned_seats: int,
    min_seats: int,
    max_seats: int,
) -> None:
    """Refuse a seat count the rules do not allow, saying why.

    docs/billing-rules.md: at least 1, at least the plan minimum, at least
    the seats assigned to users, at most the plan maximum, and a change.
    """
    if isinstance(new_seats, bool) or not isinstance(new_seats, int):
        raise InvalidSeatCount(
            "The number of licenses must be a whole number.", code="not_whole_number"
        )
    if new_seats < 1:
        raise InvalidSeatCount("The number of licenses must be at least 1.", code="below_one")
    if new_seats < min_seats:
        raise InvalidSeatCount(
            f"This plan needs at least {min_seats} licenses.",
            code="below_minimum",
            min_seats=min_seats,
        )
    if new_seats > max_seats:
        raise InvalidSeatCount(
            f"This plan allows at most {max_seats} licenses.",
            code="above_maximum",
            max_seats=max_seats,
        )
    if new_seats < assigned_seats:
        raise InvalidSeatCount(
            f"{assigned_seats} licenses are assigned to users; unassign users before "
            f"going below {assigned_seats}.",
            code="below_assigned",
            assigned_seats=assigned_seats,
        )
    if new_seats == current_seats:
        raise NoSeatChange(
            f"The subscription already has {current_seats} licenses.",
            code="no_change",
            current_seats=current_seats,
        )


# The quote contract's amounts (docs/billing-rules.md, "The quote contract"), in its order.
QUOTE_AMOUNTS = (
    "credit",
    "charge",
    "subtotal",
    "tax",
    "total",
    "credit_applied",
    "amount_due",
    "credit_added",
)


@dataclass(frozen=True)
class SeatChangeQuote:
    """Every number of a seat change, each rounded once (docs/billing-rules.md steps 1-6)."""

    # Inputs, kept so that a page, an email or an export can show the working.
    unit_price: Money
    interval: str
    current_seats: int
    new_seats: int
    period_start: datetime
    period_end: datetime
    at: datetime
    tax_rate: Decimal
    account_credit: Money
    # Results.
    credit: Money
    charge: Money
    subtotal: Money
    tax: Money
    total: Money
    credit_applied: Money
    amount_due: Money
    credit_added: Money
    new_period_start: datetime
    new_period_end: datetime

    @property
    def unused_time(self) -> timedelta:
        return self.period_end - self.at

    @property
    def period_length(self) -> timedelta:
        return self.period_end - self.period_start

    @property
    def unused_fraction(self) -> Fraction:
        """The exact share of the current period that is credited."""
        return Fraction(self.unused_time // _MICROSECOND, self.period_length // _MICROSECOND)

    @property
    def currency(self) -> str:
        return self.total.currency.code


def quote_seat_change(
    *,
    unit_price: Money,
    interval: str,
    current_seats: int,
    new_seats: int,
    period_start: datetime,
    period_end: datetime,
    at: datetime,
    tax_rate: Decimal,
    account_credit: Money,
) -> SeatChangeQuote:
    """Quote a seat change at instant ``at`` inside ``[period_start, period_end)``.

    The change takes effect at once; the unused time of the current period
    is credited, a new full period starting at ``at`` is charged. A new
    subscription (a trial converted with "Subscribe now") is a change from 0
    seats, so its credit is 0. Raises a ``QuoteError`` (a ``ValueError``)
    that says what is wrong with any argument.
    """
    months = _require_interval(interval)
    current_seats = _require_seats("current_seats", current_seats, 0)
    new_seats = _require_seats("new_seats", new_seats, 1)
    if max(current_seats, new_seats) > MAX_SEATS:
        raise InvalidSeatCount(f"A subscription cannot have more than {MAX_SEATS} seats.")
    if new_seats == current_seats:
        raise NoSeatChange(f"new_seats equals current_seats ({current_seats}): nothing changes.")
    currency, rate = _require_prices(unit_price, account_credit, tax_rate)

    start = _require_aware("period_start", period_start)
    end = _require_aware("period_end", period_end)
    at = _require_aware("at", at)
    if end <= start:
        raise OutsidePeriod(
            f"The period must end after it starts; got [{start.isoformat()}, {end.isoformat()})."
        )
    if not start <= at < end:
        raise OutsidePeriod(
            f"The change at {at.isoformat()} is outside the current period "
            f"[{start.isoformat()}, {end.isoformat()}).",
            code="outside_period",
        )

    # Exact arithmetic: the only rounding is round_money's, once per line.
    try:
        return _quote_exactly(
            unit_price,
            interval,
            months,
            current_seats,
            new_seats,
            start,
            end,
            at,
            rate,
            account_credit,
            currency,
        )
    except (Inexact, InvalidOperation):
        raise InvalidUnitPrice(
            f"unit_price {unit_price.amount} has more digits than the portal can compute exactly."
        ) from None


def _quote_exactly(
    unit_price, interval, months, current_seats, new_seats, start, end, at, rate,
    account_credit, currency,
) -> SeatChangeQuote:  # fmt: skip
    with localcontext(_EXACT):
        # Step 1: exact durations in microseconds; the fraction is not rounded.
        unused = Fraction((end - at) // _MICROSECOND, (end - start) // _MICROSECOND)
        credit = round_money(current_seats * Fraction(unit_price.amount) * unused, currency)
        # Step 2: the new period starts now and is charged in full.
        charge = round_money(new_seats * unit_price.amount, currency)
        # Step 3.
        subtotal = charge - credit
        # Step 4: tax is its own line, rounded once.
        tax = round_money(Fraction(subtotal.amount) * Fraction(rate) / 100, currency)
        total = subtotal + tax
        credit_applied, amount_due, credit_added = settle_total(total, account_credit)

        return SeatChangeQuote(
            unit_price=unit_price,
            interval=interval,
            current_seats=current_seats,
            new_seats=new_seats,
            period_start=start,
            period_end=end,
            at=at,
            tax_rate=rate,
            account_credit=account_credit,
            credit=credit,
            charge=charge,
            subtotal=subtotal,
            tax=tax,
            total=total,
            credit_applied=credit_applied,
            amount_due=amount_due,
            credit_added=credit_added,
            new_period_start=at,
            new_period_end=add_months(at, months),
        )
