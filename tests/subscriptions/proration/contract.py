"""The contract example of docs/billing-rules.md, and helpers to quote and check it."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from moneyed import Money

from subscriptions.proration import SeatChangeQuote, quote_seat_change

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
