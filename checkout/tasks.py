"""Side effects of an order, run after its transaction commits.

The confirmation email is sent exactly once. The order records its state
(pending, sent, failed with the reason); whoever sends it holds the order's
row lock from the check to the record, so two runs of the task, or the task
and the sweeper, never both send. What the broker lost (it was down at Place
order, or a worker died) stays pending, and the sweeper sends it.

The one gap no lock closes: the SMTP server accepted the message and the
process died before the commit. Then the email is sent again; a lost email is
the worse failure.
"""

from __future__ import annotations

import logging
import random
import smtplib
from dataclasses import dataclass, field
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction

from checkout.emails import order_confirmation_send
from checkout.models import Order
from subscriptions import clock

logger = logging.getLogger(__name__)

# What a later attempt may cure: the SMTP server's refusals and the network
# (refused connections, timeouts, resets are all OSError).
TRANSIENT_ERRORS = (smtplib.SMTPException, OSError)

SENT = "sent"
ALREADY_SENT = "already sent"
GAVE_UP = "failed"
BUSY = "busy"  # another process holds the order: it is sending it right now
NOT_FOUND = "not found"


def error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]


def order_confirmation_deliver(*, order_id: int, skip_locked: bool = False) -> str:
    """Send one order's confirmation unless it already went; record that it did.

    Locks the order row, re-reads it and sends only while it is pending, so a
    second run finds it sent. With ``skip_locked`` an order someone else is
    sending is left alone (``BUSY``) instead of waited for. Raises what the
    SMTP server or the network raised; the order then stays pending.
    """
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",), skip_locked=skip_locked)
            .select_related("account", "placed_by")
            .filter(pk=order_id)
            .first()
        )
        if order is None:
            return BUSY if skip_locked and Order.objects.filter(pk=order_id).exists() else NOT_FOUND
        if order.email_status == Order.EmailStatus.SENT:
            return ALREADY_SENT
        if order.email_status == Order.EmailStatus.FAILED:
            return GAVE_UP  # staff decide; setting it back to pending sends it again
        # A stalled SMTP server must not hold the order's lock (and a worker) forever.
        connection = get_connection(timeout=settings.ORDER_EMAIL_SMTP_TIMEOUT)
        order_confirmation_send(order=order, connection=connection)
        order.email_status = Order.EmailStatus.SENT
        order.email_error = ""
        order.email_sent_at = clock.now()
        order.save(update_fields=["email_status", "email_error", "email_sent_at"])
    logger.info("Confirmation for order %s sent", order.number)
    return SENT


def _order_email_error_note(*, order_id: int, error: BaseException) -> None:
    """Keep the last error on a still-pending order, for staff to see."""
    Order.objects.filter(pk=order_id, email_status=Order.EmailStatus.PENDING).update(
        email_error=error_text(error)
    )


def _order_email_give_up(*, order_id: int, error: BaseException) -> None:
    Order.objects.filter(pk=order_id, email_status=Order.EmailStatus.PENDING).update(
        email_status=Order.EmailStatus.FAILED, email_error=error_text(error)
    )


def retry_countdown(retries: int) -> float:
    """Exponential backoff with jitter: about base, 2 × base, 4 × base … at most the cap."""
    ceiling = min(
        settings.ORDER_EMAIL_RETRY_BACKOFF * 2**retries, settings.ORDER_EMAIL_RETRY_BACKOFF_MAX
    )
    # Jitter spreads the retries of many orders after an outage.
    return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 (not cryptographic)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def send_order_confirmation(self, order_id: int) -> str:
    """Send an order's confirmation email once; safe to run twice.

    Retries with exponential backoff on SMTP and network errors; after
    ``ORDER_EMAIL_MAX_RETRIES`` retries the order is marked failed with the
    reason.
    """
    try:
        return order_confirmation_deliver(order_id=order_id)
    except TRANSIENT_ERRORS as error:
        retries = self.request.retries
        if retries >= settings.ORDER_EMAIL_MAX_RETRIES:
            _order_email_give_up(order_id=order_id, error=error)
            logger.error(
                "Confirmation for order id %s failed after %s attempts: %s",
                order_id,
                retries + 1,
                error,
            )
            return GAVE_UP
        _order_email_error_note(order_id=order_id, error=error)
        countdown = retry_countdown(retries)
        logger.warning(
            "Confirmation for order id %s not sent (%s); retry in %.1f s",
            order_id,
            error,
            countdown,
        )
        # Outside the order's transaction: the lock is released while we wait.
        raise self.retry(exc=error, countdown=countdown) from error


@dataclass
class PendingEmailsDispatch:
    """What one sweep found and did, by order number."""

    due: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def summary(self, *, dry_run: bool = False) -> str:
        if dry_run:
            return (
                f"{len(self.due)} pending confirmation email(s) would be sent; "
                "dry run: nothing sent, nothing written."
            )
        return (
            f"{len(self.due)} pending confirmation email(s): {len(self.sent)} sent, "
            f"{len(self.skipped)} skipped, {len(self.failed)} failed."
        )


def pending_emails_due(*, older_than: timedelta, limit: int) -> list[Order]:
    """Orders whose confirmation is still pending ``older_than`` after they were placed."""
    return list(
        Order.objects.filter(
            email_status=Order.EmailStatus.PENDING, placed_at__lte=clock.now() - older_than
        )
        .select_related("account", "placed_by")
        .order_by("placed_at", "pk")[:limit]
    )


def pending_emails_dispatch(
    *, older_than: timedelta | None = None, limit: int | None = None
) -> PendingEmailsDispatch:
    """Send the confirmations that stayed pending: the broker was down, or a worker died.

    The grace period (``ORDER_EMAIL_SWEEP_AFTER``) leaves fresh orders to the
    task queued at Place order. Each order is sent in a transaction of its
    own, under its row lock taken with ``skip_locked``: an order another
    sweep or the task is sending right now is skipped, so sweeps running at
    the same time never send one twice.
    """
    if older_than is None:
        older_than = timedelta(seconds=settings.ORDER_EMAIL_SWEEP_AFTER)
    limit = limit or settings.ORDER_EMAIL_SWEEP_BATCH
    result = PendingEmailsDispatch()
    due = pending_emails_due(older_than=older_than, limit=limit)
    result.due = [order.number for order in due]
    for order in due:
        try:
            outcome = order_confirmation_deliver(order_id=order.pk, skip_locked=True)
        except Exception as error:
            # One order's failure must not keep the others waiting; the next sweep tries
            # again (it stays pending), and the task's retries can still give up on it.
            logger.exception("Sweeper could not send the confirmation for %s", order.number)
            _order_email_error_note(order_id=order.pk, error=error)
            result.failed[order.number] = error_text(error)
            continue
        (result.sent if outcome == SENT else result.skipped).append(order.number)
    return result


@shared_task(acks_late=True)
def dispatch_pending_emails(older_than_seconds: float | None = None) -> dict:
    """The periodic sweep (CELERY_BEAT_SCHEDULE); its next run is its retry."""
    older_than = None if older_than_seconds is None else timedelta(seconds=older_than_seconds)
    result = pending_emails_dispatch(older_than=older_than)
    if result.due:
        logger.info(result.summary())
    return {"sent": result.sent, "skipped": result.skipped, "failed": result.failed}
