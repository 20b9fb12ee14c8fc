"""A cart's quote: each line through the one quote function, settled once as a whole.

Pure, like ``subscriptions.proration``: plain values in, a frozen dataclass out.
The lines of a cart are one change of the account at one instant. Steps 1-4
of docs/billing-rules.md (credit, charge, subtotal, tax) are each line's, from
``quote_seat_change``; steps 5-6 (account credit applied or added, amount
due) are applied once to the cart's total, so the order of the lines never
changes what the card is charged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from moneyed import Money

from subscriptions.money import zero
from subscriptions.proration import SeatChangeQuote, quote_seat_change, settle_total
from subscriptions.vat import TaxTreatment

_LINE_AMOUNTS = ("credit", "charge", "subtotal", "tax", "total")


@dataclass(frozen=True)
class LineInput:
    """What one cart line needs to be quoted, loaded from the database."""

    subscription_id: int
    subscription_version: int
    unit_price: Money
    interval: str
    current_seats: int
    new_seats: int
    period_start: datetime
    period_end: datetime


@dataclass(frozen=True)
class CartQuote:
    at: datetime
    tax: TaxTreatment
    account_credit: Money
    lines: tuple[tuple[LineInput, SeatChangeQuote], ...]
    credit: Money
    charge: Money
    subtotal: Money
    tax_amount: Money
    total: Money
    credit_applied: Money
    credit_added: Money
    amount_due: Money

    @property
    def currency(self) -> str:
        return self.total.currency.code

    def fingerprint(self) -> str:
        """A digest of everything the admin is shown and everything it rests on.

        Place order compares it with the reviewed one: any change of seats,
        period, price, tax or credit gives another digest.
        """
        facts = {
            "at": self.at.isoformat(),
            "tax": [self.tax.kind, str(self.tax.rate)],
            "credit": str(self.account_credit.amount),
            "settled": [
                str(amount.amount)
                for amount in (self.credit_applied, self.amount_due, self.credit_added)
            ],
            "lines": [
                [
                    line.subscription_id,
                    line.subscription_version,
                    line.current_seats,
                    line.new_seats,
                    str(line.unit_price.amount),
                    line.unit_price.currency.code,
                    line.period_start.isoformat(),
                    line.period_end.isoformat(),
                    *(str(getattr(quote, name).amount) for name in _LINE_AMOUNTS),
                ]
                for line, quote in self.lines
            ],
        }
        return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def quote_cart(
    *,
    lines: Sequence[LineInput],
    tax: TaxTreatment,
    account_credit: Money,
    at: datetime,
) -> CartQuote:
    """Quote every line at ``at``; raises the quote function's ``ValueError``s."""
    if not lines:
        raise ValueError("The cart is empty.")
    currency = account_credit.currency
    quoted = tuple(
        (
            line,
            quote_seat_change(
                unit_price=line.unit_price,
                interval=line.interval,
                current_seats=line.current_seats,
                new_seats=line.new_seats,
                period_start=line.period_start,
                period_end=line.period_end,
                at=at,
                tax_rate=Decimal(tax.rate),
                # Each line alone; the account credit settles the cart's total below.
                account_credit=zero(currency),
            ),
        )
        for line in sorted(lines, key=lambda item: item.subscription_id)
    )

    def total_of(name: str) -> Money:
        return sum((getattr(quote, name) for _, quote in quoted), zero(currency))

    total = total_of("total")
    credit_applied, amount_due, credit_added = settle_total(total, account_credit)
    return CartQuote(
        at=at,
        tax=tax,
        account_credit=account_credit,
        lines=quoted,
        credit=total_of("credit"),
        charge=total_of("charge"),
        subtotal=total_of("subtotal"),
        tax_amount=total_of("tax"),
        total=total,
        credit_applied=credit_applied,
        credit_added=credit_added,
        amount_due=amount_due,
    )
