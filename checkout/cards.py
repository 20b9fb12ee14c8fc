"""Cards kept for an account: the card on file, and a card entered for one payment."""

from __future__ import annotations

from checkout.errors import (
    PaymentDetailsRequired,
)
from checkout.gateways import (
    CardDetails,
    PaymentGateway,
    StripeCardSetup,
)
from checkout.models import PaymentMethod
from subscriptions.models import Account


def card_entered_save(
    *, account: Account, card: CardDetails | StripeCardSetup, gateway: PaymentGateway
) -> PaymentMethod:
    """Keep a card entered on the review (the sandbox's form, or Stripe.js's SetupIntent):
    brand, last four and expiry, not yet as the card on file."""
    if not hasattr(gateway, "save_card"):
        raise PaymentDetailsRequired("Cards are entered through the payment provider's form.")
    saved = gateway.save_card(card=card)
    # Not the default yet: it becomes the card on file once it has paid.
    return payment_method_store(
        account=account, saved=saved, gateway_name=gateway.name, make_default=False
    )


def payment_method_store(
    *, account: Account, saved, gateway_name: str, make_default: bool = True
) -> PaymentMethod:
    """Keep a saved card; by default it replaces the account's card on file. One that
    is not the default is a card entered at checkout, for one payment."""
    if make_default:
        PaymentMethod.objects.filter(account=account, is_default=True).update(is_default=False)
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
