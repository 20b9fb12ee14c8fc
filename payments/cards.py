"""The card on file: reading it and keeping a new one."""

from __future__ import annotations

from payments.models import PaymentMethod
from subscriptions.models import Account


def default_payment_method(*, account: Account) -> PaymentMethod | None:
    """The account's card on file, if any (at most one: a unique constraint)."""
    return PaymentMethod.objects.filter(account=account, is_default=True).first()


def payment_method_store(
    *, account: Account, saved, gateway_name: str, make_default: bool = True
) -> PaymentMethod:
    """Keep a saved card; by default it replaces the account's card on file. One that
    is not the default is a card entered at checkout, for one payment."""
    if make_default:
        _card_on_file_unset(account.pk)
    return PaymentMethod.objects.create(
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


def card_on_file_make(method: PaymentMethod) -> None:
    """A card kept for one payment (entered at checkout) that paid: the card on file now."""
    _card_on_file_unset(method.account_id)
    PaymentMethod.objects.filter(pk=method.pk).update(is_default=True, entered_at_checkout=False)


def _card_on_file_unset(account_id: int) -> None:
    """The account's card on file is one no longer (at most one: a unique constraint)."""
    PaymentMethod.objects.filter(account_id=account_id, is_default=True).update(is_default=False)
