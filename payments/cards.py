"""The card on file: reading it and keeping a new one."""

from __future__ import annotations

from contextlib import nullcontext

from django.db import transaction

from payments.models import PaymentMethod
from subscriptions.activity import activity_record
from subscriptions.models import Account, User


def default_payment_method(*, account: Account) -> PaymentMethod | None:
    """The account's card on file, if any (at most one: a unique constraint)."""
    return PaymentMethod.objects.filter(account=account, is_default=True).first()


def payment_method_store(
    *,
    account: Account,
    saved,
    gateway_name: str,
    make_default: bool = True,
    actor: User | None = None,
    channel: str | None = None,
) -> PaymentMethod:
    """Keep a saved card; by default it replaces the account's card on file. One that
    is not the default is a card entered at checkout, for one payment.

    With a ``channel``, a new card on file writes an activity entry in the same
    transaction: which card was on file before (if any) and which is now.
    """
    # No savepoint for a card entered at checkout: Place order's transaction holds it.
    with transaction.atomic() if channel else nullcontext():
        previous = default_payment_method(account=account) if make_default and channel else None
        if make_default:
            _card_on_file_unset(account.pk)
        method = PaymentMethod.objects.create(
            account=account,
            gateway=gateway_name,
            gateway_reference=saved.reference,
            brand=saved.brand,
            last4=saved.last4,
            exp_month=saved.exp_month,
            exp_year=saved.exp_year,
            is_default=make_default,
            entered_at_checkout=not make_default,
        )
        if make_default and channel:
            activity_record(
                account=account,
                actor=actor,
                channel=channel,
                action="card_replaced" if previous else "card_added",
                target=f"card {method.pk}",
                before=_card_facts(previous) if previous else {},
                after=_card_facts(method),
            )
    return method


def _card_facts(method: PaymentMethod) -> dict:
    """What the Activity page says of a card: brand and last four digits, no more."""
    return {"brand": method.brand, "last4": method.last4}


def card_on_file_make(method: PaymentMethod) -> None:
    """A card kept for one payment (entered at checkout) that paid: the card on file now."""
    _card_on_file_unset(method.account_id)
    PaymentMethod.objects.filter(pk=method.pk).update(is_default=True, entered_at_checkout=False)


def _card_on_file_unset(account_id: int) -> None:
    """The account's card on file is one no longer (at most one: a unique constraint)."""
    PaymentMethod.objects.filter(account_id=account_id, is_default=True).update(is_default=False)
