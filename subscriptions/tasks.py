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
