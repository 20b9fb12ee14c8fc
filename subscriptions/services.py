"""Writes. Views, admin actions, commands and tasks all call these."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from moneyed import Money

from subscriptions import clock
from subscriptions.eu_vat_rates import EU_STANDARD_VAT_RATES
from subscriptions.models import (
    Account,
    CreditLedgerEntry,
    SeatAssignment,
    Subscription,
    TaxRate,
    User,
)
from subscriptions.money import minor_unit_places
from subscriptions.selectors import account_credit_balance
from subscriptions.vat import InvalidVatNumber, normalize_vat_number


def account_set_vat_number(*, account: Account, vat_number: str) -> Account:
    """Store a checked VAT number in compact form, or clear it with an empty string.

    An invalid number raises ``ValidationError`` and nothing is saved.
    """
    compact = ""
    if vat_number.strip():
        try:
            compact = normalize_vat_number(vat_number, account.country)
        except InvalidVatNumber as error:
            raise ValidationError({"vat_number": str(error)}) from None
    account.vat_number = compact
    account.save(update_fields=["vat_number"])
    return account


def credit_ledger_add(
    *,
    account: Account,
    amount: Money,
    reason: str,
    reference: str = "",
    note: str = "",
    created_by: User | None = None,
) -> CreditLedgerEntry:
    """Append one movement to the account's credit balance.

    The balance may never go below zero: a debit larger than the balance is
    refused. The account row is locked so two debits cannot both pass.
    """
    if amount.currency.code != account.currency:
        raise ValidationError(
            f"The account keeps its credit in {account.currency}, not {amount.currency.code}."
        )
    if not amount.amount.is_finite() or amount.amount == 0:
        raise ValidationError("A ledger entry needs a non-zero amount.")
    if -amount.amount.as_tuple().exponent > minor_unit_places(account.currency):
        raise ValidationError(f"{amount.amount} has more decimals than {account.currency} allows.")
    if reason not in CreditLedgerEntry.Reason.values:
        raise ValidationError(f"Unknown ledger reason {reason!r}.")
    with transaction.atomic():
        Account.objects.select_for_update().get(pk=account.pk)
        if amount.amount < 0:
            balance = account_credit_balance(account=account)
            if balance + amount < Money(0, account.currency):
                raise ValidationError(
                    f"The account has {balance} of credit; {-amount} cannot be taken from it."
                )
        return CreditLedgerEntry.objects.create(
            account=account,
            amount=amount,
            reason=reason,
            reference=reference,
            note=note,
            created_by=created_by,
            created_at=clock.now(),
        )


def seat_assign(*, subscription: Subscription, user: User) -> SeatAssignment:
    """Give ``user`` one of the subscription's licenses, if one is free."""
    with transaction.atomic():
        locked = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if not locked.account.memberships.filter(user=user).exists():
            raise ValidationError(f"{user} is not a member of {locked.account}.")
        existing = SeatAssignment.objects.filter(subscription=locked, user=user).first()
        if existing:
            return existing
        if locked.assignments.count() >= locked.seats:
            raise ValidationError(
                f"All {locked.seats} licenses are assigned; add licenses before assigning more."
            )
        return SeatAssignment.objects.create(
            subscription=locked, user=user, assigned_at=clock.now()
        )


def tax_rates_ensure_eu_standard() -> int:
    """Fill in the EU standard VAT rates that are missing; never overwrite an edited one."""
    created = 0
    for country, rate in EU_STANDARD_VAT_RATES.items():
        created += TaxRate.objects.get_or_create(country=country, defaults={"rate": Decimal(rate)})[
            1
        ]
    return created
