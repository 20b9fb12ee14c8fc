"""A renewal: the next full period's charge, paid from the account credit first."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, Inexact, InvalidOperation, localcontext

from moneyed import Money

from subscriptions.money import round_money
from subscriptions.proration.amounts import (
    _EXACT,
    MAX_SEATS,
    _require_prices,
    _require_seats,
    settle_total,
)
from subscriptions.proration.errors import InvalidSeatCount, InvalidUnitPrice


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
