"""The email that a renewal charge failed: owed once per failed attempt, sent after commit.

The renewal batch's record step calls ``payment_failures_note`` in its own
transaction: one ``PaymentFailureNotice`` per declined attempt (a single
statement for the whole batch), and after commit a task per notice. The task
sends to every billing admin in their own language and marks the notice sent
under its row lock, so a retried task, a second run or the sweeper never sends
it twice; a notice still unsent (the
broker was down) is sent by the sweeper. A second failure, on the next retry,
is another attempt and so another notice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction

from checkout.tasks import ALREADY_SENT, BUSY, NOT_FOUND, SENT
from renewals.batch import RETRY_AFTER_DAYS, Renewal, renewal_token
from renewals.models import PaymentFailureNotice
from renewals.sweeps import sweep_cutoff, unsent_deliver
from subscriptions import clock
from subscriptions.models import Subscription

logger = logging.getLogger(__name__)

NO_LONGER_DUE = "no longer due"  # paid (Pay now, a retry) before the email went: not sent


def payment_failures_note(failed: Iterable[Renewal], *, now: datetime) -> None:
    """Owe the email of each failed renewal charge.

    Call inside the record step's transaction, after ``dunning_step``: one
    statement for the whole batch, whatever its size. (The activity entry of
    each failure is the record step's, ``renewal_failed_entry``.)
    """
    failed = list(failed)
    if not failed:
        return
    PaymentFailureNotice.objects.bulk_create(
        [
            PaymentFailureNotice(
                payment_id=renewal.payment.pk,
                subscription_id=renewal.subscription.pk,
                created_at=now,
            )
            for renewal in failed
        ],
        ignore_conflicts=True,
    )
    for renewal in failed:
        payment_id = renewal.payment.pk
        # Robust: the notice stays unsent on its row for the sweeper if the broker is down.
        transaction.on_commit(lambda pk=payment_id: _queue(pk), robust=True)


def _queue(payment_id: int) -> None:
    from renewals.tasks import send_payment_failed_notice

    send_payment_failed_notice.delay(payment_id)


def is_last_try(subscription: Subscription) -> bool:
    """The next retry is the last: if it fails too, the subscription is suspended."""
    return subscription.renewal_attempts == len(RETRY_AFTER_DAYS)


def payment_failed_deliver(*, payment_id: int, skip_locked: bool = False) -> str:
    """Send one failure notice unless it went already; record that it did.

    As ``order_confirmation_deliver``: the notice's row lock is held from the
    check to the record. A renewal paid meanwhile needs no email. Raises what the
    SMTP server or the network raised; the notice then stays unsent.
    """
    with transaction.atomic():
        notice = (
            PaymentFailureNotice.objects.select_for_update(of=("self",), skip_locked=skip_locked)
            .select_related("payment", "subscription__account", "subscription__plan__product")
            .filter(pk=payment_id)
            .first()
        )
        if notice is None:
            exists = PaymentFailureNotice.objects.filter(pk=payment_id).exists()
            return BUSY if skip_locked and exists else NOT_FOUND
        if notice.sent_at is not None:
            return ALREADY_SENT
        subscription = notice.subscription
        # Still the period that failed, still unpaid (not renewed by Pay now or a retry).
        still_due = subscription.status in (
            Subscription.Status.PAST_DUE,
            Subscription.Status.SUSPENDED,
        ) and notice.payment.checkout_token == renewal_token(
            subscription.pk, subscription.current_period_end
        )
        if still_due:
            from renewals.emails import payment_failed_send  # emails → payments → run → here

            connection = get_connection(timeout=settings.ORDER_EMAIL_SMTP_TIMEOUT)
            payment_failed_send(notice=notice, connection=connection)
        notice.sent_at = clock.now()
        notice.save(update_fields=["sent_at"])
    if not still_due:
        return NO_LONGER_DUE
    logger.info("Payment failure notice for renewal payment %s sent", payment_id)
    return SENT


def payment_failed_notices_dispatch(
    *, older_than: timedelta | None = None, limit: int | None = None
) -> dict[int, str]:
    """Send the notices that stayed unsent (the broker was down, a worker died)."""
    unsent = (
        PaymentFailureNotice.objects.filter(
            sent_at__isnull=True, created_at__lte=sweep_cutoff(older_than)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return unsent_deliver(
        unsent,
        lambda pk: payment_failed_deliver(payment_id=pk, skip_locked=True),
        what="failure notice",
        limit=limit,
    )
