"""Money and rates in the reader's locale: 42,00 € in German, €42.00 in English."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_decimal
from django import template
from django.utils.translation import get_language, to_locale
from moneyed import Money
from moneyed.l10n import format_money

register = template.Library()


def _locale() -> str:
    return to_locale(get_language() or "en")


@lru_cache(maxsize=4096)
def _formatted(amount: str, currency: str, locale: str) -> str:
    # Babel's formatting is a tenth of a page's time; pages show the same few amounts.
    # The key is the amount's text: 42.0 == 42.00 and -0 == 0 as Decimals.
    return format_money(Money(Decimal(amount), currency), locale=locale)


@register.filter
def money(value: Money | None) -> str:
    if value is None or value == "":
        return ""
    return _formatted(str(value.amount), value.currency.code, _locale())


@register.filter
def percent(value: Decimal) -> str:
    """19.00 → "19 %" in German, "19%" in English; 25.50 → 25,5 / 25.5."""
    number = format_decimal(Decimal(value).normalize(), locale=_locale())
    return f"{number}\u00a0%" if _locale().startswith("de") else f"{number}%"
