"""Argument checks shared by the quotes, and settling a total against the credit.

``settle_total`` is steps 5 and 6 of docs/billing-rules.md.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, InvalidOperation

from moneyed import Money

from subscriptions.money import (
    CurrencyMismatch,
    minor_unit_places,
    require_same_currency,
    round_half_up,
    round_money,
    zero,
)
from subscriptions.proration.errors import (
    InvalidAccountCredit,
    InvalidSeatCount,
    InvalidTaxRate,
    InvalidUnitPrice,
    MixedCurrencies,
    QuoteError,
)

# Far beyond any real plan; with them every line fits the 60-digit context below exactly.
MAX_SEATS = 10**9
MAX_UNIT_PRICE = 10**18
_EXACT = Context(prec=60, rounding=ROUND_HALF_UP, traps=[InvalidOperation, Inexact])


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
