"""The Stripe gateway, through the official ``stripe`` library.

Amounts cross this boundary as integer minor units; a rate-limited call is
tried again with the same idempotency key.
"""

from __future__ import annotations

import itertools
import random
import time
from typing import TYPE_CHECKING

import stripe
from django.conf import settings

from payments.gateways.base import (
    AUTHENTICATION_REQUIRED,
    FAILED,
    PENDING,
    REQUIRES_ACTION,
    REQUIRES_CONFIRMATION,
    SUCCEEDED,
    ChargeResult,
    GatewayRefused,
    GatewayUnavailable,
    SavedCard,
    StripeCardSetup,
    to_minor_units,
)
from payments.models import PaymentMethod

if TYPE_CHECKING:
    from payments.models import Payment
    from subscriptions.models import Account


def _rate_limit_retry(error: stripe.RateLimitError) -> bool:
    """Whether to try a 429 again ourselves.

    The library retries on its own only when Stripe says ``Stripe-Should-Retry: true``
    (a lock timeout); a plain rate limit comes back without that header and is worth
    another try after a pause. ``false`` means Stripe says it would not help.
    """
    headers = {name.lower(): value for name, value in (error.headers or {}).items()}
    return "stripe-should-retry" not in headers


def _backoff_seconds(retry: int) -> float:
    """As the library waits between its own retries: 0.5 s doubling, at most 5 s, jittered."""
    ceiling = min(0.5 * 2**retry, 5.0)
    return max(0.5, ceiling * random.uniform(0.5, 1.0))  # noqa: S311 (not cryptographic)


class StripeGateway:
    """Stripe through its official library; Stripe.js collects the card in the browser."""

    name = PaymentMethod.Gateway.STRIPE
    prepares_locally = False

    def __init__(self) -> None:
        self.client = stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            base_addresses={"api": settings.STRIPE_API_BASE},
            max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
            http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
        )

    def _call(self, method, *args, **kwargs):
        for retry in itertools.count():  # bounded: only a 429 goes round again
            try:
                return method(*args, **kwargs)
            except stripe.RateLimitError as error:
                if retry < settings.STRIPE_MAX_NETWORK_RETRIES and _rate_limit_retry(error):
                    time.sleep(_backoff_seconds(retry))
                    continue  # the same arguments: the same idempotency key
                raise GatewayUnavailable(str(error)) from error
            except stripe.APIConnectionError as error:
                raise GatewayUnavailable(str(error)) from error
            except stripe.APIError as error:  # 5xx after the library's retries
                raise GatewayUnavailable(str(error)) from error
            except stripe.CardError:
                raise
            except stripe.StripeError as error:  # e.g. a deleted customer, an amount too small
                raise GatewayRefused(error.code or "stripe_error", str(error)) from error

    # -- customers and cards --------------------------------------------------------

    def ensure_customer(self, *, account: Account) -> str:
        """The account's Stripe Customer, created on first need."""
        if account.stripe_customer_id:
            return account.stripe_customer_id
        customer = self._call(
            self.client.v1.customers.create,
            params={"name": account.name, "metadata": {"account_id": str(account.pk)}},
            options={"idempotency_key": f"customer:{account.pk}"},
        )
        account.stripe_customer_id = customer.id
        account.save(update_fields=["stripe_customer_id"])
        return customer.id

    def setup_intent_create(self, *, account: Account) -> tuple[str, str]:
        """A SetupIntent for Stripe.js to collect a card: (id, client secret)."""
        customer = self.ensure_customer(account=account)
        intent = self._call(
            self.client.v1.setup_intents.create,
            params={"customer": customer, "usage": "off_session", "payment_method_types": ["card"]},
        )
        return intent.id, intent.client_secret

    def setup_intent_card(self, *, account: Account, setup_intent_id: str) -> SavedCard:
        """The card a succeeded SetupIntent of this account's customer saved."""
        intent = self._call(self.client.v1.setup_intents.retrieve, setup_intent_id)
        if intent.status != "succeeded" or intent.customer != account.stripe_customer_id:
            raise ValueError("This card setup did not succeed for this account.")
        method = self._call(self.client.v1.payment_methods.retrieve, intent.payment_method)
        if method.customer != account.stripe_customer_id:
            self._call(
                self.client.v1.payment_methods.attach,
                method.id,
                params={"customer": account.stripe_customer_id},
            )
        card = method.card
        return SavedCard(
            reference=method.id,
            brand=str(card.brand).title(),
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
        )

    def card_setup(self, *, account: Account, setup_intent_id: str) -> StripeCardSetup:
        """A SetupIntent Stripe.js confirmed on the review, checked: this account's, succeeded.

        Raises ``ValueError`` for a SetupIntent of another customer or one that did not
        succeed, ``GatewayRefused`` for one Stripe does not know.
        """
        if not account.stripe_customer_id:
            raise ValueError("This account has no Stripe customer to have set up a card.")
        saved = self.setup_intent_card(account=account, setup_intent_id=setup_intent_id)
        return StripeCardSetup(setup_intent=setup_intent_id, card=saved)

    def save_card(self, *, card: StripeCardSetup) -> SavedCard:
        """The card of a checked SetupIntent. Typed card details are never taken here:
        with Stripe, the number goes from the browser to Stripe only."""
        if not isinstance(card, StripeCardSetup):
            raise GatewayRefused("setup_intent_required", "Cards are entered through Stripe.js.")
        return card.card

    def card_detach(self, *, reference: str) -> None:
        """Take a card off the account's Stripe customer: it can never be charged again."""
        self._call(self.client.v1.payment_methods.detach, reference)

    # -- payments --------------------------------------------------------------------

    def prepare(self, *, payment: Payment) -> str:
        intent = self._call(
            self.client.v1.payment_intents.create,
            params=self._intent_params(payment, confirm=False),
            options={"idempotency_key": f"{payment.idempotency_key}:create"},
        )
        return intent.id

    def _intent_params(self, payment: Payment, **how) -> dict:
        """A PaymentIntent for ``payment``: its amount, from its account's card on file."""
        return {
            "amount": to_minor_units(payment.amount),
            "currency": payment.amount.currency.code.lower(),
            "customer": self.ensure_customer(account=payment.account),
            "payment_method": payment.payment_method.gateway_reference,
            **how,
            "metadata": {
                "payment_id": str(payment.pk),
                "checkout_token": payment.checkout_token,
                "account_id": str(payment.account_id),
            },
        }

    def _result(self, intent) -> ChargeResult:
        status = intent.status
        if status == SUCCEEDED:
            return ChargeResult(SUCCEEDED, intent.id)
        if status == REQUIRES_ACTION:
            return ChargeResult(REQUIRES_ACTION, intent.id, client_secret=intent.client_secret)
        if status == REQUIRES_CONFIRMATION:
            return ChargeResult(REQUIRES_CONFIRMATION, intent.id)
        if status in ("processing", "requires_capture"):
            return ChargeResult(PENDING, intent.id)
        error = intent.to_dict().get("last_payment_error") or {}
        if status == "requires_payment_method" and error.get("code") == AUTHENTICATION_REQUIRED:
            # Declined off session for want of the customer: it waits for them to confirm
            # it with the card on file and pass the bank's step (still open, not failed).
            return ChargeResult(REQUIRES_ACTION, intent.id, client_secret=intent.client_secret)
        reason = error.get("decline_code") or error.get("code") or status
        if reason == "payment_intent_authentication_failure":
            reason = "authentication_failed"
        return ChargeResult(FAILED, intent.id, str(reason))

    def confirm(self, *, payment: Payment) -> ChargeResult:
        try:
            intent = self._call(
                self.client.v1.payment_intents.confirm,
                payment.reference,
                options={"idempotency_key": f"{payment.idempotency_key}:confirm"},
            )
        except stripe.CardError as error:
            return ChargeResult(FAILED, payment.reference, error.code or "card_declined")
        except GatewayRefused:
            # E.g. a retried confirm of a payment that already went through: ask.
            return self.retrieve(payment=payment)
        return self._result(intent)

    def cancel(self, *, payment: Payment) -> None:
        """Give up a payment that has not taken money, so it never can."""
        self._call(self.client.v1.payment_intents.cancel, payment.reference)

    def retrieve(self, *, payment: Payment) -> ChargeResult:
        return self._result(self._call(self.client.v1.payment_intents.retrieve, payment.reference))

    def refund(self, *, payment: Payment) -> None:
        self._call(
            self.client.v1.refunds.create,
            params={"payment_intent": payment.reference},
            options={"idempotency_key": f"{payment.idempotency_key}:refund"},
        )

    def charge_off_session(self, *, payment: Payment) -> ChargeResult:
        """Charge the card on file while the customer is away: create and confirm at once.

        The idempotency key comes from the payment, so asking again for the same
        payment (after a crash or a lost answer) gets Stripe's first answer
        instead of a second charge. A card error is a ``FAILED`` result with
        Stripe's code. A card whose bank wants the customer to authenticate is
        ``REQUIRES_ACTION`` with the PaymentIntent's client secret (Stripe declines
        it with ``authentication_required``; a stand-in may answer
        ``requires_action``): the customer completes it on the portal. Raises
        ``GatewayUnavailable`` when Stripe does not answer.
        """
        method = payment.payment_method
        if method is None:
            return ChargeResult(FAILED, payment.reference, "payment_method_missing")
        try:
            intent = self._call(
                self.client.v1.payment_intents.create,
                params=self._intent_params(payment, confirm=True, off_session=True),
                options={"idempotency_key": f"{payment.idempotency_key}:off_session"},
            )
        except stripe.CardError as error:
            # Stripe names the declined PaymentIntent on the error (a stand-in may not).
            details = error.error.to_dict() if error.error else {}
            intent = details.get("payment_intent") or {}
            reference = intent.get("id", "") if isinstance(intent, dict) else str(intent)
            secret = intent.get("client_secret", "") if isinstance(intent, dict) else ""
            if error.code == AUTHENTICATION_REQUIRED and reference and secret:
                return ChargeResult(REQUIRES_ACTION, reference, client_secret=secret)
            return ChargeResult(FAILED, reference, error.code or "card_declined")
        except GatewayRefused as refused:  # e.g. a card detached from the customer
            return ChargeResult(FAILED, payment.reference, refused.code)
        return self._result(intent)
