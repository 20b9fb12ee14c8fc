"""The one way to read an account's credit balance: for one account or many at once.

An account's credit is the sum of its ledger entries in the account's currency
(docs/billing-rules.md). An entry in another currency is never added in: the
balance of such an account is a ``CurrencyMismatch``, so no amount is guessed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Sum
from moneyed import Money

from subscriptions.models import Account, CreditLedgerEntry
from subscriptions.money import CurrencyMismatch, round_money


def credit_balances(accounts: Iterable[Account]) -> dict[int, Money | CurrencyMismatch]:
    """Each account's credit balance by account id, in one query.

    An account whose ledger holds entries in another currency maps to a
    ``CurrencyMismatch`` naming them (the caller decides: raise, or skip that
    account and go on with the others).
    """
    currencies = {account.pk: account.currency for account in accounts}
    totals: dict[int, dict[str, Decimal]] = defaultdict(dict)
    rows = (
        CreditLedgerEntry.objects.filter(account_id__in=currencies)
        .values("account_id", "amount_currency")
        .annotate(total=Sum("amount"))
        .values_list("account_id", "amount_currency", "total")
        .order_by()
    )
    for account_id, currency, total in rows:
        totals[account_id][currency] = total
    balances: dict[int, Money | CurrencyMismatch] = {}
    for account_id, currency in currencies.items():
        foreign = sorted(set(totals[account_id]) - {currency})
        if foreign:
            balances[account_id] = CurrencyMismatch(
                f"Account {account_id} keeps its credit in {currency}, but its ledger holds "
                f"entries in {', '.join(foreign)}."
            )
        else:
            balances[account_id] = round_money(
                totals[account_id].get(currency) or Decimal("0"), currency
            )
    return balances


def credit_balance(account: Account) -> Money:
    """One account's credit balance; raises ``CurrencyMismatch`` for a foreign-currency entry."""
    balance = credit_balances([account])[account.pk]
    if isinstance(balance, CurrencyMismatch):
        raise balance
    return balance
