"""The one way to create a payment attempt: Place order, the staff seat change and renewals.

An attempt is committed before any gateway is asked (``Payment``'s docstring):
the callers create it in a transaction of its own, so that a crash, a timeout
or a second request finds it and asks the gateway what happened instead of
charging again. Its idempotency key is the one the gateway receives.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from moneyed import Money

from core.batch_writes import batch_insert
from payments.models import Payment, PaymentMethod
from subscriptions.models import Account, User

# A reviewed quote is placed at its own instant only while it is this fresh;
# after that the admin reviews again, so no order takes effect in the past.
REVIEW_VALID_FOR = timedelta(minutes=15)
# Extra time an attempt waiting for the bank's authentication may take.
AUTHENTICATION_GRACE = timedelta(minutes=15)
# How long one request owns a payment attempt before another may take it over
# (after a crash); longer than any gateway call with its retries.
PAYMENT_CLAIM = timedelta(seconds=90)


def payment_attempt_new(
    *,
    account: Account,
    payment_method: PaymentMethod | None,
    checkout_token: str,
    idempotency_key: str,
    gateway_name: str,
    amount: Money,
    quoted_at: datetime,
    created_at: datetime,
    fingerprint: str = "",
    language: str = "en",
    created_by: User | None = None,
    claimed_until: datetime | None = None,
) -> Payment:
    """A new attempt, not yet saved: ``payment_attempts_create`` writes it.

    Kept apart from the write so that a gateway that prepares locally can give
    it its reference (a function of the idempotency key) before it is stored.
    """
    return Payment(
        account=account,
        payment_method=payment_method,
        created_by=created_by,
        checkout_token=checkout_token,
        idempotency_key=idempotency_key,
        gateway=gateway_name,
        amount=amount,
        quoted_at=quoted_at,
        fingerprint=fingerprint,
        language=language,
        claimed_until=claimed_until,
        created_at=created_at,
    )


def payment_attempts_create(attempts: list[Payment]) -> list[Payment]:
    """Write new attempts in one statement; each gets its id (in the caller's transaction)."""
    return batch_insert(attempts)


def payment_attempt_create(**fields) -> Payment:
    """One new attempt, written: ``payment_attempt_new``'s arguments."""
    [attempt] = payment_attempts_create([payment_attempt_new(**fields)])
    return attempt
