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

MINUS_SIGN = "\u2212"


def _locale() -> str:
    return to_locale(get_language() or "en")


@lru_cache(maxsize=4096)
def _formatted(amount: str, currency: str, locale: str) -> str:
    # Babel's formatting is a tenth of a page's time; pages show the same few amounts.
    # The key is the amount's text: 42.0 == 42.00 and -0 == 0 as Decimals.
    text = format_money(Money(Decimal(amount), currency), locale=locale)
    # Babel writes a hyphen-minus; every amount the portal shows uses the minus sign
    # (U+2212), the one the credit lines have always shown: "−€864.00", "−864,00 €".
    return text.replace("-", MINUS_SIGN)


def money_text(value: Money | None, *, locale: str | None = None) -> str:
    """The one way an amount is written for people: pages, emails and the admin."""
    if value is None or value == "":
        return ""
    amount = value.amount
    if not amount:
        amount = abs(amount)  # a zero is never "−€0.00"
    return _formatted(str(amount), value.currency.code, locale or _locale())


@register.filter
def money(value: Money | None) -> str:
    return money_text(value)


@register.filter
def money_negated(value: Money | None) -> str:
    """A deduction shown as a negative amount: a credit of €63.00 reads "−€63.00"."""
    if value is None or value == "":
        return ""
    return money_text(-value)


@register.filter
def before_full_stop(text: str) -> str:
    """``text`` without a final ".", for a sentence that ends right after it.

    English dates and times end in one ("Dec. 3, 2026, 10:29 a.m."); the sentence's
    own full stop then ends them without doubling it ("… 10:29 a.m..").
    """
    text = str(text)
    return text[:-1] if text.endswith(".") else text


@register.filter
def percent(value: Decimal) -> str:
    """19.00 → "19 %" in German, "19%" in English; 25.50 → 25,5 / 25.5."""
    number = format_decimal(Decimal(value).normalize(), locale=_locale())
    return f"{number}\u00a0%" if _locale().startswith("de") else f"{number}%"
