"""The periodic renewal run (CELERY_BEAT_SCHEDULE "renew-subscriptions")."""

from __future__ import annotations

import logging
from datetime import datetime

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
