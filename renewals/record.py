"""Step 3 of a renewal batch: record what the gateway said about each claimed payment.

A paid renewal gets its order through the order writer (``checkout/orders.py``);
a decline or an authentication request moves the subscription along the
dunning schedule; an attempt not answered stays open for a later run.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from checkout.models import Order
from checkout.orders import orders_write, subscriptions_save
from core.batch_writes import batch_update
from core.plans import plan_for_the_values
from payments.gateways import FAILED, REQUIRES_ACTION, SUCCEEDED
from payments.models import Payment
from renewals.batch import (
    Batch,
    Renewal,
    Zeros,
    authentication_request_queue,
    credit_given_back,
    dunning_step,
    renewal_order_draft,
)
from renewals.notices import payment_failures_note
from renewals.report import PAST_DUE, RENEWED, SUSPENDED, UNAVAILABLE
from subscriptions import clock
from subscriptions.activity import Channel, activity_entry
from subscriptions.models import AuditEntry, CreditLedgerEntry, Subscription

# Every subscription a renewal changes gets its version bumped (a stale review is told apart).
SUBSCRIPTION_FIELDS = [
    "status",
    "current_period_start",
    "current_period_end",
    "past_due_since",
    "renewal_attempts",
    "next_renewal_attempt_at",
    "updated_at",
]
_SUBSCRIPTION_ATTNAMES = [field.attname for field in Subscription._meta.concrete_fields]
# What recording an unpaid renewal's attempt changes (a paid one: the order writer's).
_PAYMENT_FIELDS = [
    "status",
    "reference",
    "client_secret",
    "failure_reason",
    "claimed_until",
    "updated_at",
]


def batch_record(batch: Batch, *, at: datetime) -> None:
    """Step 3 of a renewal batch: write what the gateway said, in one transaction."""
    if not batch.to_charge:
        return
    now = clock.now()
    with transaction.atomic():
        plan_for_the_values()
        # Re-read under lock: a writer between the steps keeps its changes. Every
        # column, onto the claimed objects (which keep their account and plan).
        fresh = {
            row[0]: row
            for row in Subscription.objects.select_for_update()
            .filter(pk__in=[renewal.subscription.pk for renewal in batch.to_charge])
            .order_by("pk")
            .values_list(*_SUBSCRIPTION_ATTNAMES)
        }
        # A payment that waited for its customer may have moved on since the claim
        # (the page, a webhook): then it is theirs, whatever the gateway said here.
        waiting = [renewal.payment.pk for renewal in batch.to_charge if renewal.waiting]
        moved_on = (
            set(
                Payment.objects.select_for_update()
                .filter(pk__in=waiting)
                .exclude(status=Payment.Status.REQUIRES_ACTION, order__isnull=True)
                .values_list("pk", flat=True)
            )
            if waiting
            else set()
        )
        paid, changed, payments, ledger, activity, declined = [], [], [], [], [], []
        for renewal in batch.to_charge:
            subscription = renewal.subscription
            for attname, value in zip(_SUBSCRIPTION_ATTNAMES, fresh[subscription.pk], strict=True):
                setattr(subscription, attname, value)
            if (
                subscription.current_period_end != renewal.new_start
                or renewal.payment.pk in moved_on
            ):
                # Renewed meanwhile by another writer (the customer completing the
                # authentication, its webhook): its payment and order are theirs.
                continue
            payment, result = renewal.payment, renewal.result
            payment.updated_at = now
            if result is None or result.status not in (SUCCEEDED, FAILED, REQUIRES_ACTION):
                # Not answered, not tried in time, or still undecided at the gateway: the
                # attempt stays open (no reference kept) and the next run asks again.
                payment.claimed_until = None
                payments.append(payment)
                reason = (result.failure_reason or result.status) if result else "not tried"
                batch.outcomes.append(renewal.outcome(UNAVAILABLE, reason=reason))
                continue
            payment.reference = result.reference or payment.reference
            payment.claimed_until = None
            if result.succeeded:
                payment.status = Payment.Status.SUCCEEDED
                paid.append(renewal)
                continue
            if result.status == REQUIRES_ACTION:
                # The bank asks the customer to authenticate: the payment waits for
                # them (its credit stays held), the subscription goes past due, and
                # the billing admins are asked to complete it on the portal.
                payment.status = Payment.Status.REQUIRES_ACTION
                payment.client_secret = result.client_secret or payment.client_secret
                payment.failure_reason = "authentication_required"
                payments.append(payment)
                dunning_step(subscription, at=at, now=now)
                changed.append(subscription)
                action = (
                    SUSPENDED if subscription.status == Subscription.Status.SUSPENDED else PAST_DUE
                )
                batch.outcomes.append(renewal.outcome(action, reason=payment.failure_reason))
                activity.append(renewal_failed_entry(renewal, now=now))
                if not renewal.waiting:
                    authentication_request_queue(payment.pk)
                continue
            # A decline, or an authentication the customer failed or gave up.
            payment.status = Payment.Status.FAILED
            payment.failure_reason = result.failure_reason or result.status
            payments.append(payment)
            if renewal.quote.credit_applied.amount:
                ledger.append(
                    credit_given_back(
                        account_id=subscription.account_id,
                        amount=renewal.quote.credit_applied,
                        reference=renewal.number,
                        at=now,
                    )
                )
            dunning_step(subscription, at=at, now=now)
            changed.append(subscription)
            declined.append(renewal)
            action = SUSPENDED if subscription.status == Subscription.Status.SUSPENDED else PAST_DUE
            batch.outcomes.append(renewal.outcome(action, reason=payment.failure_reason))
            activity.append(renewal_failed_entry(renewal, now=now))
        paid_record(paid, batch, at=at, now=now)
        AuditEntry.objects.bulk_create(activity)  # one statement, none when all were paid
        if payments:
            batch_update(Payment, payments, _PAYMENT_FIELDS)
        CreditLedgerEntry.objects.bulk_create(ledger)
        subscriptions_save(changed, SUBSCRIPTION_FIELDS)
        # The billing admins are told, once per failed attempt, after commit.
        payment_failures_note(declined, now=now)


def paid_record(
    renewals: list[Renewal], batch: Batch, *, at: datetime, now: datetime
) -> list[Order]:
    """Orders, lines and next periods for paid renewals (the order writer); emails
    after commit."""
    zeros = Zeros()
    drafts = []
    for renewal in renewals:
        draft = renewal_order_draft(renewal, now=now, zeros=zeros)
        # Written by the order writer with the orders, in one statement for the batch.
        draft.activity.append(renewed_entry(renewal, now=now))
        drafts.append(draft)
        batch.outcomes.append(renewal.outcome(RENEWED))
        if renewal.new_end <= at:
            batch.behind.append(renewal.subscription.pk)
    return orders_write(drafts, subscription_fields=SUBSCRIPTION_FIELDS)


# -- The account's activity: what the renewal did, in the customer's trail (SYSTEM) -------


def _target(subscription: Subscription) -> str:
    return f"subscription {subscription.pk} ({subscription.plan.product.name})"


def _amount(renewal: Renewal) -> dict:
    due = renewal.quote.amount_due
    return {"amount": str(due.amount), "currency": due.currency.code}


def renewed_entry(renewal: Renewal, *, now: datetime) -> AuditEntry:
    """Renewed for the next period (paid, or covered by credit)."""
    subscription = renewal.subscription
    return activity_entry(
        account=subscription.account_id,
        channel=Channel.SYSTEM,
        action="renewed",
        target=_target(subscription),
        before={"period_end": renewal.new_start.isoformat()},
        after={
            "period_end": renewal.new_end.isoformat(),
            "order": renewal.number,
            **_amount(renewal),
        },
        at=now,
    )


def renewal_failed_entry(renewal: Renewal, *, now: datetime) -> AuditEntry:
    """The renewal charge failed: past due (with the next try) or, at the end, suspended."""
    subscription = renewal.subscription
    suspended = subscription.status == Subscription.Status.SUSPENDED
    retry = subscription.next_renewal_attempt_at
    return activity_entry(
        account=subscription.account_id,
        channel=Channel.SYSTEM,
        action="suspended" if suspended else "renewal_payment_failed",
        target=_target(subscription),
        before={"period_end": renewal.new_start.isoformat()},
        after={
            "status": subscription.status,
            "next_attempt": retry.isoformat() if retry else None,
            "reason": renewal.payment.failure_reason,
            **_amount(renewal),
        },
        at=now,
    )
