"""Steps 1 and 2 of a renewal batch: claim, then charge (``renewals/run.py`` runs them).

The claim commits a payment for every renewal to be charged before any gateway
is asked; the charge asks the gateway outside any transaction while the claims
hold. ``RENEWAL_CLAIM`` and ``CLAIM_MARGIN`` are read here, at call time: tests
patch them on this module.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction

from checkout.orders import subscriptions_save
from core.batch_writes import batch_update
from core.plans import plan_for_the_values
from payments.attempts import payment_attempt_new, payment_attempts_create
from payments.gateways import SUCCEEDED, ChargeResult, PaymentGateway
from payments.models import Payment, PaymentMethod
from renewals.batch import (
    Batch,
    Renewal,
    attempts_by_token,
    awaiting_customer,
    billing_languages,
    claimed_now,
    credit_given_back,
    credit_held,
    interrupted_attempt,
    outcome_of,
    renewal_order_number,
    renewal_token,
    with_plans,
)
from renewals.record import SUBSCRIPTION_FIELDS
from renewals.report import CANCELED, ERROR, amount_text
from subscriptions import clock
from subscriptions.activity import Channel, activity_entry
from subscriptions.credit import credit_balances
from subscriptions.models import AuditEntry, CreditLedgerEntry, Subscription
from subscriptions.money import round_money

if TYPE_CHECKING:
    from renewals.run import RenewalRun

logger = logging.getLogger(__name__)

# How long a run owns the payments it claimed; longer than charging one batch.
RENEWAL_CLAIM = timedelta(hours=1)
# A batch stops charging this long before its claims run out; the rest waits for a later run.
CLAIM_MARGIN = timedelta(minutes=10)


def batch_claim(run: RenewalRun, cursor: int) -> Batch | None:
    """Step 1: lock the batch, write what needs no gateway, commit claimed payments."""
    now = clock.now()
    claimed_until = now + RENEWAL_CLAIM  # every payment this batch claims or reclaims
    with transaction.atomic():
        plan_for_the_values()
        # NO KEY UPDATE: exclusive among claims and Place order (which locks the
        # account FOR UPDATE), but not against the foreign-key checks of a batch
        # being recorded at the same time, which would otherwise hide its accounts.
        subscriptions = list(
            run.batch_query(cursor).select_for_update(
                skip_locked=True, of=("self", "account"), no_key=True
            )[: run.batch_size]
        )
        if not subscriptions:
            return None
        with_plans(subscriptions)
        batch = Batch(last_pk=subscriptions[-1].pk)
        accounts = {s.account_id: s.account for s in subscriptions}
        account_ids = list(accounts)
        tokens = {s.pk: renewal_token(s.pk, s.current_period_end) for s in subscriptions}
        attempts = attempts_by_token(tokens.values())
        balances = credit_balances(accounts.values())
        methods = {
            method.account_id: method
            for method in PaymentMethod.objects.filter(
                account_id__in=account_ids, is_default=True, gateway=run.gateway.name
            )
        }
        languages = billing_languages(account_ids)
        interrupted = {
            token: payment
            for token in tokens.values()
            if (payment := interrupted_attempt(attempts.get(token, ()))) is not None
        }
        waiting = {
            token: payment
            for token in tokens.values()
            if (payment := awaiting_customer(attempts.get(token, ()))) is not None
        }
        held = (
            credit_held(
                account_ids,
                [renewal_order_number(s.pk, s.current_period_end) for s in subscriptions],
            )
            if attempts
            else {}
        )

        new_payments: list[Payment] = []
        reclaimed: list[Payment] = []
        ledger: list[CreditLedgerEntry] = []
        paid_now: list[Renewal] = []
        changed: list[Subscription] = []
        ended: list[AuditEntry] = []
        for subscription in subscriptions:
            token = tokens[subscription.pk]
            previous = attempts.get(token, [])
            if any(claimed_now(attempt, now) for attempt in previous):
                continue  # another run is charging it right now
            language = languages.get(subscription.account_id, "en")
            if payment := interrupted.get(token) or waiting.get(token):
                # Sent before and never recorded: ask again as the same payment.
                number = renewal_order_number(subscription.pk, subscription.current_period_end)
                credit = round_money(held.get(number, 0), subscription.account.currency)
                try:
                    renewal = run.renewal(subscription, credit=credit, language=language)
                except ValueError as error:
                    batch.outcomes.append(outcome_of(subscription, ERROR, str(error)))
                    continue
                if renewal.quote.amount_due != payment.amount:
                    due = amount_text(renewal.quote.amount_due)
                    problem = (
                        f"interrupted payment {payment.pk} of {amount_text(payment.amount)} "
                        f"no longer matches the renewal's {due}"
                    )
                    batch.outcomes.append(outcome_of(subscription, ERROR, problem))
                    continue
                if payment.status not in (
                    Payment.Status.SUCCEEDED,
                    Payment.Status.REQUIRES_ACTION,
                ):
                    payment.status = Payment.Status.PROCESSING
                payment.claimed_until = claimed_until
                payment.updated_at = now
                payment.account = subscription.account
                reclaimed.append(payment)
                renewal.payment = payment
                renewal.waiting = payment.status == Payment.Status.REQUIRES_ACTION
                batch.to_charge.append(renewal)
                continue
            if subscription.cancel_at_period_end:
                subscription.status = Subscription.Status.CANCELED
                subscription.next_renewal_attempt_at = None
                subscription.updated_at = now
                changed.append(subscription)
                batch.outcomes.append(outcome_of(subscription, CANCELED))
                ended.append(subscription_ended_entry(subscription, now=now))
                continue
            balance = balances[subscription.account_id]
            if isinstance(balance, Exception):
                batch.outcomes.append(outcome_of(subscription, ERROR, str(balance)))
                continue
            number = renewal_order_number(subscription.pk, subscription.current_period_end)
            if still_held := round_money(held.get(number, 0), balance.currency):
                # An earlier attempt failed where its credit was not given back (the
                # bank's authentication failed, reported by the page or a webhook).
                ledger.append(
                    credit_given_back(
                        account_id=subscription.account_id,
                        amount=still_held,
                        reference=number,
                        at=now,
                    )
                )
                balance = balances[subscription.account_id] = balance + still_held
            try:
                renewal = run.renewal(subscription, credit=balance, language=language)
            except ValueError as error:
                batch.outcomes.append(outcome_of(subscription, ERROR, str(error)))
                continue
            quote = renewal.quote
            if quote.credit_applied.amount:
                # Taken now, under the account lock; given back if the charge fails.
                balances[subscription.account_id] = balance - quote.credit_applied
                ledger.append(
                    CreditLedgerEntry(
                        account_id=subscription.account_id,
                        amount=-quote.credit_applied,
                        reason=CreditLedgerEntry.Reason.APPLIED_TO_ORDER,
                        reference=renewal.number,
                        note=f"Renewal from {renewal.new_start:%Y-%m-%d}",
                        created_at=now,
                    )
                )
            if not quote.amount_due.amount:
                paid_now.append(renewal)
                continue
            method = methods.get(subscription.account_id)
            renewal.payment = payment_attempt_new(
                account=subscription.account,
                payment_method=method,
                checkout_token=renewal.token,
                idempotency_key=f"{renewal.token}:{len(previous) + 1}",
                gateway_name=run.gateway.name,
                amount=quote.amount_due,
                quoted_at=run.at,
                language=language,
                claimed_until=claimed_until,
                created_at=now,
            )
            new_payments.append(renewal.payment)
            batch.to_charge.append(renewal)

        payment_attempts_create(new_payments)
        if reclaimed:
            batch_update(Payment, reclaimed, ["status", "claimed_until", "updated_at"])
        run.record_paid(paid_now, batch, now=now)
        CreditLedgerEntry.objects.bulk_create(ledger)
        AuditEntry.objects.bulk_create(ended)
        subscriptions_save(changed, SUBSCRIPTION_FIELDS)
    return batch


def subscription_ended_entry(subscription: Subscription, *, now: datetime) -> AuditEntry:
    """Canceled at period end: the period is over and the subscription ends (SYSTEM)."""
    return activity_entry(
        account=subscription.account_id,
        channel=Channel.SYSTEM,
        action="subscription_ended",
        target=f"subscription {subscription.pk} ({subscription.plan.product.name})",
        before={"status": Subscription.Status.ACTIVE.value},
        after={
            "status": Subscription.Status.CANCELED.value,
            "ended": subscription.current_period_end.isoformat(),
        },
        at=now,
    )


def batch_charge(batch: Batch, *, gateway: PaymentGateway) -> None:
    """Step 2: ask the gateway, outside any transaction, while the claims hold."""
    # From the claim, not from now: an overlapped batch waits for the one before.
    deadline = batch.claimed_at + (RENEWAL_CLAIM - CLAIM_MARGIN).total_seconds()
    for renewal in batch.to_charge:
        payment = renewal.payment
        if payment.status == Payment.Status.SUCCEEDED:
            renewal.result = ChargeResult(SUCCEEDED, payment.reference)
            continue
        if time.monotonic() > deadline:
            continue  # its claim would run out while we charge: a later run does it
        try:
            if renewal.waiting:
                # Charging again would ask the bank again and make a second payment:
                # the one waiting for the customer is asked how it stands.
                renewal.result = gateway.retrieve(payment=payment)
                continue
            renewal.result = gateway.charge_off_session(payment=payment)
        except Exception as error:
            # Not known whether money moved: the attempt stays open, and the next run
            # asks again with the same idempotency key.
            logger.warning("Renewal payment %s not charged: %s", payment.pk, error)
            renewal.result = ChargeResult("unavailable", failure_reason=str(error)[:200])
