"""The sweepers' shared part: what the broker lost is sent by the next sweep.

Each email the renewals owe (a request to authenticate, a failure notice, a
yearly reminder) is queued after its commit; a row still unsent a while later
is the sweeper's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet

from checkout.tasks import error_text
from subscriptions import clock

logger = logging.getLogger(__name__)


def sweep_cutoff(older_than: timedelta | None) -> datetime:
    """Rows queued before this are the sweeper's: their task had time to run."""
    if older_than is None:
        older_than = timedelta(seconds=settings.ORDER_EMAIL_SWEEP_AFTER)
    return clock.now() - older_than


def unsent_deliver(
    ids: QuerySet, deliver: Callable[[int], str], *, what: str, limit: int | None = None
) -> dict[int, str]:
    """Send what stayed unsent (the broker was down, a worker died): ``deliver`` each of
    the first ``limit`` ids (``ids`` ordered, e.g. a ``values_list`` queryset). An error
    is logged and left to the next sweep."""
    outcomes = {}
    for pk in list(ids[: limit or settings.ORDER_EMAIL_SWEEP_BATCH]):
        try:
            outcomes[pk] = deliver(pk)
        except Exception as error:  # the next sweep tries again
            logger.exception("Sweeper could not send the %s %s", what, pk)
            outcomes[pk] = error_text(error)
    return outcomes
