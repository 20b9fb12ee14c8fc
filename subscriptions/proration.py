"""The billing rules of docs/billing-rules.md as pure functions.

No ORM, no clock, no settings: callers load the data first, then compute.
Every page, order, email and command that shows an amount gets it from
``quote_seat_change``; every period boundary comes from ``period_end``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, InvalidOperation, localcontext
from fractions import Fraction

from moneyed import Money

from subscriptions.money import (
    CurrencyMismatch,
    minor_unit_places,
    require_same_currency,
    round_half_up,
    round_money,
    zero,
)

MONTH = "month"
YEAR = "year"
INTERVALS = (MONTH, YEAR)
_MONTHS_PER_INTERVAL = {MONTH: 1, YEAR: 12}
_MICROSECOND = timedelta(microseconds=1)
# Far beyond any real plan; with them every line fits the 60-digit context below exactly.
MAX_SEATS = 10**9
MAX_UNIT_PRICE = 10**18
_EXACT = Context(prec=60, rounding=ROUND_HALF_UP, traps=[InvalidOperation, Inexact])


class QuoteError(ValueError):
    """A seat-change quote was asked for with arguments the rules refuse.

    ``code`` and ``params`` let a page say the same thing in the reader's
    language; ``str(error)`` is the English message.
    """

    def __init__(self, message: str, *, code: str = "", **params: int) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


class InvalidSeatCount(QuoteError):
    pass


class NoSeatChange(InvalidSeatCount):
    pass


class UnknownInterval(QuoteError):
    pass


class NaiveDatetime(QuoteError):
    pass


class OutsidePeriod(QuoteError):
    pass


class InvalidTaxRate(QuoteError):
    pass


class InvalidAccountCredit(QuoteError):
    pass


class InvalidUnitPrice(QuoteError):
    pass


class MixedCurrencies(QuoteError, CurrencyMismatch):
    pass


# -- Periods -----------------------------------------------------------------


def _require_aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise NaiveDatetime(f"{name} must be a datetime, not {type(value).__name__}.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetime(f"{name} must be time-zone aware; got the naive datetime {value}.")
    return value.astimezone(UTC)


def _require_interval(interval: str) -> int:
    try:
        return _MONTHS_PER_INTERVAL[interval]
    except (KeyError, TypeError):
        raise UnknownInterval(
            f"Unknown billing interval {interval!r}; expected one of {', '.join(INTERVALS)}."
        ) from None


def add_months(instant: datetime, months: int) -> datetime:
    """Calendar month arithmetic, the day clamped to the month's last day.

    The time of day is kept: 2026-01-31 10:00 + 1 month = 2026-02-28 10:00.
    """
    month_index = instant.year * 12 + (instant.month - 1) + months
    year, month = divmod(month_index, 12)
    month += 1
    day = min(instant.day, calendar.monthrange(year, month)[1])
    return instant.replace(year=year, month=month, day=day)


def period_end(anchor: datetime, interval: str, n: int = 1) -> datetime:
    """End of period ``n`` counted from the billing anchor: ``anchor + n × interval``.

    Always counted from the anchor, never from the previous end, so a
    31st-of-the-month anchor comes back to the 31st after February.
    """
    anchor = _require_aware("anchor", anchor)
    months = _require_interval(interval)
    return add_months(anchor, months * n)


def period_containing(anchor: datetime, interval: str, at: datetime) -> tuple[datetime, datetime]:
    """The period ``[start, end)`` counted from ``anchor`` that contains ``at``."""
    anchor = _require_aware("anchor", anchor)
    at = _require_aware("at", at)
    months = _require_interval(interval)
    if at < anchor:
        raise OutsidePeriod(f"{at.isoformat()} is before the billing anchor {anchor.isoformat()}.")
    elapsed_months = (at.year - anchor.year) * 12 + (at.month - anchor.month)
    n = max(elapsed_months // months, 0)
    # The month count is a close guess; step until end(n) <= at < end(n + 1).
    while n > 0 and add_months(anchor, months * n) > at:
        n -= 1
    while add_months(anchor, months * (n + 1)) <= at:
        n += 1
    return add_months(anchor, months * n), add_months(anchor, months * (n + 1))


# -- Seat rules ----------------------------------------------------------------


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


# -- The quote -----------------------------------------------------------------


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


def settle_total(total: Money, account_credit: Money) -> tuple[Money, Money, Money]:
    """Steps 5 and 6 of docs/billing-rules.md: ``(credit_applied, amount_due, credit_added)``.

    A positive total is paid from the account credit first; a total of zero
    or less charges nothing and its absolute value goes to the credit.
    """
    currency = require_same_currency(total, account_credit)
    nothing = zero(currency)
    if total.amount > 0:
        credit_applied = round_money(min(account_credit.amount, total.amount), currency)
        return credit_applied, total - credit_applied, nothing
    return nothing, nothing, (-total if total.amount else nothing)


def _require_seats(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSeatCount(f"{name} must be a whole number, not {value!r}.")
    if value < minimum:
        raise InvalidSeatCount(f"{name} must be at least {minimum}; got {value}.")
    return value


def _require_money(name: str, value: Money, error: type[QuoteError]) -> Money:
    if not isinstance(value, Money):
        raise error(f"{name} must be a Money amount, not {type(value).__name__}.")
    if not value.amount.is_finite():
        raise error(f"{name} must be a finite amount; got {value.amount}.")
    if value.amount < 0:
        raise error(f"{name} cannot be negative; got {value}.")
    return value


def _require_tax_rate(tax_rate: Decimal) -> Decimal:
    if isinstance(tax_rate, float | bool) or not isinstance(tax_rate, Decimal | int | str):
        raise InvalidTaxRate(f"tax_rate must be a Decimal percentage, not {tax_rate!r}.")
    try:
        rate = Decimal(tax_rate)
    except InvalidOperation:
        raise InvalidTaxRate(f"tax_rate must be a number; got {tax_rate!r}.") from None
    if not rate.is_finite():
        raise InvalidTaxRate(f"tax_rate must be finite; got {tax_rate!r}.")
    if rate < 0:
        raise InvalidTaxRate(f"tax_rate cannot be negative; got {rate}.")
    if rate > 100:
        raise InvalidTaxRate(f"tax_rate is a percentage of at most 100; got {rate}.")
    return rate


def _require_prices(unit_price: Money, account_credit: Money, tax_rate: Decimal):
    """Check the money arguments of a quote; return their currency and the tax rate."""
    _require_money("unit_price", unit_price, InvalidUnitPrice)
    _require_money("account_credit", account_credit, InvalidAccountCredit)
    for name, amount in (("unit_price", unit_price), ("account_credit", account_credit)):
        if amount.amount > MAX_UNIT_PRICE:
            raise InvalidUnitPrice(f"{name} {amount} is larger than the portal handles.")
    places = minor_unit_places(account_credit.currency)
    if account_credit.amount != round_half_up(account_credit.amount, places):
        # A balance is a sum of rounded entries; a finer one could pay more than it holds.
        raise InvalidAccountCredit(
            f"account_credit {account_credit.amount} has more decimals than "
            f"{account_credit.currency.code} allows ({places})."
        )
    try:
        currency = require_same_currency(unit_price, account_credit)
    except CurrencyMismatch as error:
        raise MixedCurrencies(str(error)) from None
    return currency, _require_tax_rate(tax_rate)


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


# -- Renewals --------------------------------------------------------------------


@dataclass(frozen=True)
class RenewalQuote:
    """What renewing a subscription for one more period costs, each line rounded once.

    A renewal charges the next full period; there is no unused time to credit.
    The account's credit pays first (docs/billing-rules.md steps 5 and 6).
    """

    # Inputs, kept so that an order, an email or a command can show the working.
    unit_price: Money
    seats: int
    tax_rate: Decimal
    account_credit: Money
    # Results.
    charge: Money
    tax: Money
    total: Money
    credit_applied: Money
    amount_due: Money
    credit_added: Money

    @property
    def currency(self) -> str:
        return self.total.currency.code


def quote_renewal(
    *, unit_price: Money, seats: int, tax_rate: Decimal, account_credit: Money
) -> RenewalQuote:
    """Quote one renewal: ``seats × unit_price`` plus tax, paid from the credit first.

    ``charge = round(seats × unit_price)``, ``tax = round(charge × tax_rate / 100)``,
    ``total = charge + tax``, then ``settle_total``. Raises a ``QuoteError``
    (a ``ValueError``) that says what is wrong with any argument.
    """
    seats = _require_seats("seats", seats, 1)
    if seats > MAX_SEATS:
        raise InvalidSeatCount(f"A subscription cannot have more than {MAX_SEATS} seats.")
    currency, rate = _require_prices(unit_price, account_credit, tax_rate)
    try:
        with localcontext(_EXACT):
            charge = round_money(seats * unit_price.amount, currency)
            # A percentage of a rounded amount: a product of two decimals, exact.
            tax = round_money((charge.amount * rate).scaleb(-2), currency)
            total = charge + tax
            credit_applied, amount_due, credit_added = settle_total(total, account_credit)
    except (Inexact, InvalidOperation):
        raise InvalidUnitPrice(
            f"unit_price {unit_price.amount} has more digits than the portal can compute exactly."
        ) from None
    return RenewalQuote(
        unit_price=unit_price,
        seats=seats,
        tax_rate=rate,
        account_credit=account_credit,
        charge=charge,
        tax=tax,
        total=total,
        credit_applied=credit_applied,
        amount_due=amount_due,
        credit_added=credit_added,
    )
