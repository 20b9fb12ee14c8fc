"""Periodic work on subscriptions, run by Celery beat (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task

from subscriptions import clock
from subscriptions.trials import trials_expire

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def expire_trials() -> dict:
    """Expire the trials that have ended (hourly); safe to run twice, even at once.

    Its next run is its retry: a trial left over by a failed run is expired then.
    """
    expired = trials_expire(at=clock.now())
    if expired:
        logger.info("%d free trial(s) expired", len(expired))
    return {"expired": len(expired)}


# acks_late with reject_on_worker_lost: a worker lost mid-send gives the message back, and
# the task, delivered again, may claim the email again (at worst it is sent twice).
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def send_password_reset(self, *, email: str, domain: str, use_https: bool, language: str) -> None:
    """Look the address up and, if an active account uses it, email it a reset link.

    The sign-in page's "Forgot your password?" only queues this: finding out
    whether the address has an account, and sending the email, happen here, so
    the page answers in the same time and the same way for any address.

    At most one email per address per ``PASSWORD_RESET_EMAIL_INTERVAL``
    (``PasswordResetEmailForm``): asking again within it (a double click, or
    someone flooding a stranger's inbox) sends nothing more; the link already
    sent still works.
    """
    from django.utils import translation

    from subscriptions.forms import PasswordResetEmailForm

    form = PasswordResetEmailForm({"email": email}, at=clock.now(), task_id=self.request.id)
    if not form.is_valid():
        return
    try:
        with translation.override(language):
            form.save(domain_override=domain, use_https=use_https)
    except Exception:
        form.release()  # not sent (the mail server refused, say): asking again sends it
        raise


# What a later attempt may cure: the SMTP server's refusals and the network.
_TRANSIENT_EMAIL_ERRORS = (smtplib.SMTPException, OSError)


@shared_task(
    acks_late=True,
    autoretry_for=_TRANSIENT_EMAIL_ERRORS,
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=8,
)
def send_cancellation_email(entry_id: int, subscription_id: int) -> int:
    """Email the billing admins that a subscription will end (or was kept); after commit.

    Takes the ids and re-reads: the entry says what was decided. Returns how many
    emails went (0 when the entry or the subscription is gone).
    """
    from django.conf import settings
    from django.core.mail import get_connection

    from subscriptions.emails import cancellation_messages
    from subscriptions.models import AuditEntry, Subscription

    entry = AuditEntry.objects.filter(pk=entry_id).first()
    subscription = (
        Subscription.objects.select_related("account", "plan__product")
        .filter(pk=subscription_id)
        .first()
    )
    if entry is None or subscription is None:
        return 0
    messages = cancellation_messages(
        entry=entry, subscription=subscription, base_url=settings.PORTAL_BASE_URL
    )
    sent = get_connection().send_messages(messages) or 0
    logger.info("Cancellation email for subscription %s sent to %d admin(s)", subscription_id, sent)
    return sent
