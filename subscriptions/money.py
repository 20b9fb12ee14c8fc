"""The one rounding helper for amounts (shared/BILLING_RULES.md, "Money").

Every amount is rounded to its currency's minor unit with ROUND_HALF_UP (ties
away from zero), once per line. Callers pass an exact value (a ``Decimal`` or
a ``Fraction``) and get a ``Money`` back.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from moneyed import Currency, Money, get_currency


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies met in one calculation."""


def minor_unit_places(currency: Currency | str) -> int:
    """Decimal places of the currency's minor unit: EUR 2, JPY 0, KWD 3."""
    if isinstance(currency, str):
        currency = get_currency(currency)
    places = round(math.log10(currency.sub_unit)) if currency.sub_unit else 0
    return max(places, 0)


def round_half_up(value: Decimal | Fraction | int, places: int) -> Decimal:
    """Round an exact value to ``places`` decimals, ties away from zero.

    Works on ``Fraction`` so that a ratio of durations is never rounded
    before the one rounding of the line it belongs to.
    """
    exact = Fraction(value)
    scaled = abs(exact) * 10**places
    units = math.floor(scaled + Fraction(1, 2))
    if exact < 0:
        units = -units
    return Decimal(units).scaleb(-places)


def round_money(value: Decimal | Fraction | int, currency: Currency | str) -> Money:
    """Round ``value`` to the minor unit of ``currency`` and wrap it as Money."""
    if isinstance(currency, str):
        currency = get_currency(currency)
    places = minor_unit_places(currency)
    amount = round_half_up(value, places)
    # Keep a fixed exponent so that Money("0", "EUR") prints as 0.00.
    return Money(amount.quantize(Decimal(1).scaleb(-places)), currency)


def zero(currency: Currency | str) -> Money:
    return round_money(0, currency)


def require_same_currency(*amounts: Money) -> Currency:
    """Return the common currency, or raise CurrencyMismatch."""
    currencies = {amount.currency for amount in amounts}
    if len(currencies) != 1:
        codes = ", ".join(sorted(c.code for c in currencies))
        raise CurrencyMismatch(f"Amounts in different currencies cannot be combined: {codes}.")
    return currencies.pop()
