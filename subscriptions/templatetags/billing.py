"""Money and rates in the reader's locale: 42,00 € in German, €42.00 in English."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal
from django import template
from django.utils.translation import get_language, to_locale
from moneyed import Money
from moneyed.l10n import format_money

register = template.Library()


def _locale() -> str:
    return to_locale(get_language() or "en")


@register.filter
def money(value: Money | None) -> str:
    if value is None or value == "":
        return ""
    return format_money(value, locale=_locale())


@register.filter
def percent(value: Decimal) -> str:
    """19.00 → "19 %" in German, "19%" in English; 25.50 → 25,5 / 25.5."""
    number = format_decimal(Decimal(value).normalize(), locale=_locale())
    return f"{number}\u00a0%" if _locale().startswith("de") else f"{number}%"
