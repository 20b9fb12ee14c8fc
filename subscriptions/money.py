"""The one rounding helper for amounts (docs/billing-rules.md, "Money").

Every amount is rounded to its currency's minor unit with ROUND_HALF_UP (ties
away from zero), once per line. Callers pass an exact value (a ``Decimal`` or
a ``Fraction``) and get a ``Money`` back.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Context, Decimal
from fractions import Fraction
from functools import cache

from moneyed import Currency, Money, get_currency


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies met in one calculation."""


def minor_unit_places(currency: Currency | str) -> int:
    """Decimal places of the currency's minor unit: EUR 2, JPY 0, KWD 3."""
    return _places(currency.code if isinstance(currency, Currency) else currency)


@cache
def _places(code: str) -> int:
    currency = get_currency(code)
    places = round(math.log10(currency.sub_unit)) if currency.sub_unit else 0
    return max(places, 0)


def round_half_up(value: Decimal | Fraction | int, places: int) -> Decimal:
    """Round an exact value to ``places`` decimals, ties away from zero.

    Works on ``Fraction`` so that a ratio of durations is never rounded
    before the one rounding of the line it belongs to.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = Decimal(value)
    if isinstance(value, Decimal) and value.is_finite():
        # The same rounding without leaving Decimal (a renewal run does this 100,000s of
        # times): precise enough for every digit of the value, so quantize is exact.
        _, digits, exponent = value.as_tuple()
        context = Context(prec=len(digits) + abs(exponent) + places + 2)
        rounded = value.quantize(_unit(places), rounding=ROUND_HALF_UP, context=context)
        return rounded if rounded else rounded.copy_abs()  # never "-0.00"
    exact = Fraction(value)
    scaled = abs(exact) * 10**places
    units = math.floor(scaled + Fraction(1, 2))
    if exact < 0:
        units = -units
    return Decimal(units).scaleb(-places, context=Context(prec=len(str(abs(units))) + 1))


def round_money(value: Decimal | Fraction | int, currency: Currency | str) -> Money:
    """Round ``value`` to the minor unit of ``currency`` and wrap it as Money."""
    if isinstance(currency, str):
        currency = get_currency(currency)
    places = minor_unit_places(currency)
    amount = round_half_up(value, places)
    # Keep a fixed exponent so that Money("0", "EUR") prints as 0.00.
    return Money(amount.quantize(_unit(places)), currency)


@cache
def _unit(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def zero(currency: Currency | str) -> Money:
    return round_money(0, currency)


def require_same_currency(*amounts: Money) -> Currency:
    """Return the common currency, or raise CurrencyMismatch."""
    currencies = {amount.currency for amount in amounts}
    if len(currencies) != 1:
        codes = ", ".join(sorted(c.code for c in currencies))
        raise CurrencyMismatch(f"Amounts in different currencies cannot be combined: {codes}.")
    return currencies.pop()
