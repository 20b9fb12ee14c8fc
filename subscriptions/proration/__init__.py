"""The billing rules of docs/billing-rules.md as pure functions.

No ORM, no clock, no settings: callers load the data first, then compute.
Every page, order, email and command that shows an amount gets it from
``quote_seat_change``; every period boundary comes from ``period_end``.
Import the rules from here: ``from subscriptions.proration import period_end``.
"""

from subscriptions.proration.amounts import MAX_SEATS, MAX_UNIT_PRICE, settle_total
from subscriptions.proration.errors import (
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
)
from subscriptions.proration.periods import (
    INTERVALS,
    MONTH,
    YEAR,
    add_months,
    period_containing,
    period_end,
)
from subscriptions.proration.renewal import RenewalQuote, quote_renewal
from subscriptions.proration.seat_change import (
    QUOTE_AMOUNTS,
    SeatChangeQuote,
    quote_seat_change,
    validate_new_seats,
)

__all__ = [
    "INTERVALS",
    "MAX_SEATS",
    "MAX_UNIT_PRICE",
    "MONTH",
    "QUOTE_AMOUNTS",
    "YEAR",
    "InvalidAccountCredit",
    "InvalidSeatCount",
    "InvalidTaxRate",
    "InvalidUnitPrice",
    "MixedCurrencies",
    "NaiveDatetime",
    "NoSeatChange",
    "OutsidePeriod",
    "QuoteError",
    "RenewalQuote",
    "SeatChangeQuote",
    "UnknownInterval",
    "add_months",
    "period_containing",
    "period_end",
    "quote_renewal",
    "quote_seat_change",
    "settle_total",
    "validate_new_seats",
]
