"""Periodic work on subscriptions, run by Celery beat (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import logging

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


@shared_task(acks_late=True)
def send_password_reset(*, email: str, domain: str, use_https: bool, language: str) -> None:
    """Look the address up and, if an active account uses it, email it a reset link.

    The sign-in page's "Forgot your password?" only queues this: finding out
    whether the address has an account, and sending the email, happen here, so
    the page answers in the same time and the same way for any address.

    At most one email per address per ``PASSWORD_RESET_EMAIL_INTERVAL``: asking
    again within it (a double click, or someone flooding a stranger's inbox) sends
    nothing more; the link already sent still works. The send is claimed on the
    user's row first, so two workers given the same request never both send it.
    """
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.forms import PasswordResetForm
    from django.db.models import Q
    from django.utils import translation

    form = PasswordResetForm({"email": email})
    if not form.is_valid():
        return
    now = clock.now()
    users = get_user_model().objects.filter(
        email__iexact=form.cleaned_data["email"], is_active=True
    )
    claimed = users.filter(
        Q(password_reset_sent_at__isnull=True)
        | Q(password_reset_sent_at__lte=now - settings.PASSWORD_RESET_EMAIL_INTERVAL)
    ).update(password_reset_sent_at=now)
    if not claimed:
        # No account, an inactive one, or an email sent a moment ago (nothing says which).
        return
    try:
        with translation.override(language):
            form.save(domain_override=domain, use_https=use_https)
    except Exception:
        # Not sent: the next request may send it at once.
        users.filter(password_reset_sent_at=now).update(password_reset_sent_at=None)
        raise
