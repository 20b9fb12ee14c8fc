"""Free trials that reached their end become expired.

An expired trial shows "Subscribe now" in the Billing Center and is bought as
a change from 0 seats (docs/billing-rules.md). ``manage.py expire_trials``
and the hourly beat task (``subscriptions.tasks.expire_trials``) both call
``trials_expire``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F, QuerySet

from subscriptions import clock
from subscriptions.activity import Channel, activity_entry
from subscriptions.models import AuditEntry, Subscription

TRIAL_EXPIRY_BATCH = 500
AUDIT_ACTION = "trial_expired"


@dataclass(frozen=True)
class ExpiredTrial:
    """One trial this run expired (or, in a dry run, would expire)."""

    subscription_id: int
    account_id: int
    account_name: str
    product_name: str
    trial_end: datetime


def _expired_trial(subscription: Subscription) -> ExpiredTrial:
    return ExpiredTrial(
        subscription_id=subscription.pk,
        account_id=subscription.account_id,
        account_name=subscription.account.name,
        product_name=subscription.plan.product.name,
        trial_end=subscription.trial_end,
    )


def _expiry_audit(subscription: Subscription, at: datetime) -> AuditEntry:
    """No actor: operations did it, through the command or the beat task."""
    trial_end = subscription.trial_end.isoformat()
    return activity_entry(
        account=subscription.account_id,
        channel=Channel.OPERATIONS,
        action=AUDIT_ACTION,
        target=f"subscription {subscription.pk}",
        before={"status": Subscription.Status.TRIAL.value, "trial_end": trial_end},
        after={"status": Subscription.Status.EXPIRED.value, "trial_end": trial_end},
        reason=f"The free trial ended at {trial_end}.",
        at=at,
    )


def trials_due(*, at: datetime) -> QuerySet[Subscription]:
    """Trials whose end is at or before ``at`` (a trial is ``[start, trial_end)``), oldest first."""
    return (
        Subscription.objects.filter(
            status=Subscription.Status.TRIAL, trial_end__isnull=False, trial_end__lte=at
        )
        .select_related("account", "plan__product")
        .order_by("trial_end", "id")
    )


def trials_expire(
    *,
    at: datetime,
    dry_run: bool = False,
    batch_size: int = TRIAL_EXPIRY_BATCH,
    on_progress: Callable[[int], None] | None = None,
) -> list[ExpiredTrial]:
    """Expire every trial that ended by ``at``; return the trials expired by this call.

    Works in batches, each its own transaction: the batch's rows are locked
    with ``SKIP LOCKED``, so two runs at once split the trials between them
    and each trial is expired, and audited, exactly once. A rerun finds
    nothing left to do. With ``dry_run`` nothing is locked or written: the
    trials that would expire are returned.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"at must be time-zone aware; got the naive datetime {at}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}.")
    report = on_progress or (lambda done: None)
    expired: list[ExpiredTrial] = []
    if dry_run:
        for subscription in trials_due(at=at).iterator(chunk_size=batch_size):
            expired.append(_expired_trial(subscription))
            if len(expired) % batch_size == 0:
                report(len(expired))
        report(len(expired))
        return expired
    while True:
        with transaction.atomic():
            # Rows another run holds are skipped: that run expires them. PostgreSQL
            # re-checks the filter on a row changed since the query began, so a trial
            # another run has just expired is not picked again.
            batch = list(
                trials_due(at=at).select_for_update(skip_locked=True, of=("self",))[:batch_size]
            )
            if not batch:
                break
            now = clock.now()
            Subscription.objects.filter(
                pk__in=[subscription.pk for subscription in batch],
                status=Subscription.Status.TRIAL,
            ).update(
                status=Subscription.Status.EXPIRED,
                # A review made while it was a trial is stale now.
                version=F("version") + 1,
                updated_at=now,
            )
            AuditEntry.objects.bulk_create(_expiry_audit(trial, now) for trial in batch)
        expired.extend(_expired_trial(subscription) for subscription in batch)
        report(len(expired))
    return expired
