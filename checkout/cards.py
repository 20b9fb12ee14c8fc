"""Cards kept for an account: the card on file, and a card entered for one payment."""

from __future__ import annotations

from checkout.errors import (
    PaymentDetailsRequired,
)
from payments.cards import payment_method_store
from payments.gateways import (
    CardDetails,
    PaymentGateway,
    StripeCardSetup,
)
from payments.models import PaymentMethod
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
