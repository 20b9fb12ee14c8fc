"""The periodic renewal run (CELERY_BEAT_SCHEDULE "renew-subscriptions")."""

from __future__ import annotations

import logging

from celery import shared_task

from checkout.renewals import subscriptions_renew
from subscriptions import clock

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def renew_subscriptions_task() -> dict:
    """Renew what is due now. Safe beside another run; the next run is its retry."""
    summary = subscriptions_renew(at=clock.now())
    if summary.failed:
        logger.warning(summary.line())
    else:
        logger.info(summary.line())
    return summary.as_dict()
