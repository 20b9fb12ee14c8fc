"""The renewals' background work: the periodic renewal run, fanned out in shards, and
the request to authenticate a renewal payment, sent once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction

from checkout.tasks import (
    ALREADY_SENT,
    BUSY,
    GAVE_UP,
    NOT_FOUND,
    SENT,
    TRANSIENT_ERRORS,
    retry_countdown,
)
from payments.models import RENEWAL_TOKEN_PREFIX, Payment
from renewals.emails import renewal_authentication_send
from renewals.run import subscriptions_renew
from renewals.sweeps import sweep_cutoff, unsent_deliver
from subscriptions import clock

logger = logging.getLogger(__name__)

NOT_WAITING = "not waiting"  # the renewal payment was completed or failed: nothing to ask


@shared_task(acks_late=True)
def renew_subscriptions_task() -> dict:
    """Renew what is due now. Safe beside another run; the next run is its retry."""
    summary = subscriptions_renew(at=clock.now())
    if summary.failed:
        logger.warning(summary.line())
    else:
        logger.info(summary.line())
    return summary.as_dict()


@shared_task(acks_late=True, ignore_result=False)
def renew_subscriptions_shard_task(at: str, index: int, count: int, batch_size: int = 1000) -> dict:
    """One shard of a fanned-out run (``renew_subscriptions --fan-out``): the accounts
    whose id is ``index`` modulo ``count``. Returns the shard's summary for the command.
    """
    summary = subscriptions_renew(
        at=datetime.fromisoformat(at), batch_size=batch_size, shard=(index, count)
    )
    logger.log(
        logging.WARNING if summary.failed else logging.INFO,
        "shard %s/%s: %s",
        index + 1,
        count,
        summary.line(),
    )
    return summary.as_dict()


# -- The request to authenticate a renewal payment --------------------------------------


def renewal_authentication_request_deliver(*, payment_id: int, skip_locked: bool = False) -> str:
    """Ask the billing admins, once, to authenticate a renewal payment that waits for them.

    As ``order_confirmation_deliver``: the payment's row lock is held from the
    check to the record, so two runs never both send. A payment no longer
    waiting (completed, failed) needs no request. Raises what the SMTP server
    or the network raised; the request then stays unsent.
    """
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update(of=("self",), skip_locked=skip_locked)
            .select_related("account", "payment_method")
            .filter(pk=payment_id)
            .first()
        )
        if payment is None:
            exists = Payment.objects.filter(pk=payment_id).exists()
            return BUSY if skip_locked and exists else NOT_FOUND
        if payment.authentication_requested_at is not None:
            return ALREADY_SENT
        if payment.status != Payment.Status.REQUIRES_ACTION or payment.order_id is not None:
            return NOT_WAITING
        connection = get_connection(timeout=settings.ORDER_EMAIL_SMTP_TIMEOUT)
        renewal_authentication_send(payment=payment, connection=connection)
        payment.authentication_requested_at = clock.now()
        payment.save(update_fields=["authentication_requested_at", "updated_at"])
    logger.info("Authentication request for renewal payment %s sent", payment_id)
    return SENT


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def send_renewal_authentication_request(self, payment_id: int) -> str:
    """Send the request to authenticate a renewal payment once; safe to run twice.

    Retries on SMTP and network errors with the confirmation's backoff; after
    ``ORDER_EMAIL_MAX_RETRIES`` the sweeper keeps trying (the request stays unsent).
    """
    try:
        return renewal_authentication_request_deliver(payment_id=payment_id)
    except TRANSIENT_ERRORS as error:
        retries = self.request.retries
        if retries >= settings.ORDER_EMAIL_MAX_RETRIES:
            logger.error("Authentication request for payment %s not sent: %s", payment_id, error)
            return GAVE_UP
        raise self.retry(exc=error, countdown=retry_countdown(retries)) from error


@shared_task(acks_late=True)
def dispatch_renewal_authentication_requests(older_than_seconds: float | None = None) -> dict:
    """The periodic sweep of the requests the broker lost (CELERY_BEAT_SCHEDULE)."""
    older_than = None if older_than_seconds is None else timedelta(seconds=older_than_seconds)
    outcomes = renewal_authentication_requests_dispatch(older_than=older_than)
    return {str(pk): outcome for pk, outcome in outcomes.items()}


def renewal_authentication_requests_dispatch(
    *, older_than: timedelta | None = None, limit: int | None = None
) -> dict[int, str]:
    """Send the requests that stayed unsent (the broker was down, a worker died)."""
    unsent = (
        Payment.objects.filter(
            status=Payment.Status.REQUIRES_ACTION,
            order__isnull=True,
            authentication_requested_at__isnull=True,
            checkout_token__startswith=RENEWAL_TOKEN_PREFIX,
            updated_at__lte=sweep_cutoff(older_than),
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return unsent_deliver(
        unsent,
        lambda pk: renewal_authentication_request_deliver(payment_id=pk, skip_locked=True),
        what="authentication request",
        limit=limit,
    )


# -- The email that a renewal charge failed, and the yearly renewal reminder -------------


def _email_task(deliver, self, object_id: int, what: str) -> str:
    try:
        return deliver(object_id)
    except TRANSIENT_ERRORS as error:
        retries = self.request.retries
        if retries >= settings.ORDER_EMAIL_MAX_RETRIES:
            logger.error("%s %s not sent: %s", what, object_id, error)
            return GAVE_UP  # still unsent on its row: the sweeper keeps trying
        raise self.retry(exc=error, countdown=retry_countdown(retries)) from error


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def send_payment_failed_notice(self, payment_id: int) -> str:
    """Tell the billing admins that a renewal charge failed, once; safe to run twice."""
    from renewals.notices import payment_failed_deliver

    return _email_task(
        lambda pk: payment_failed_deliver(payment_id=pk), self, payment_id, "Failure notice"
    )


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def send_renewal_reminder(self, reminder_id: int) -> str:
    """Remind the billing admins of a yearly renewal, once; safe to run twice."""
    from renewals.reminders import renewal_reminder_deliver

    return _email_task(
        lambda pk: renewal_reminder_deliver(reminder_id=pk), self, reminder_id, "Reminder"
    )


@shared_task(acks_late=True)
def dispatch_renewal_notices() -> dict:
    """The periodic sweep of failure notices and reminders the broker lost."""
    from renewals.notices import payment_failed_notices_dispatch
    from renewals.reminders import renewal_reminders_dispatch

    return {
        "payment_failed": {str(k): v for k, v in payment_failed_notices_dispatch().items()},
        "reminders": {str(k): v for k, v in renewal_reminders_dispatch().items()},
    }


@shared_task(acks_late=True)
def send_renewal_reminders_task() -> int:
    """Hourly: owe (and send) the reminder of each yearly renewal due within 30 days."""
    from renewals.reminders import renewal_reminders_create

    created = renewal_reminders_create(at=clock.now())
    logger.info("%s renewal reminder(s) queued", created)
    return created
