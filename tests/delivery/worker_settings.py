"""Settings of the Celery worker the delivery tests start: the portal's own, with short waits.

The worker gets its database, broker and SMTP sink from the environment like any
deployment (DATABASE_URL, CELERY_BROKER_URL, EMAIL_URL); only the waits that
would make a test take minutes are shortened here.
"""

import os

from billing_portal.settings import *  # noqa: F403
from billing_portal.settings import CELERY_BROKER_TRANSPORT_OPTIONS

CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    # This test run's keys only: two runs on one Redis never see each other's messages.
    "global_keyprefix": os.environ["DELIVERY_REDIS_KEY_PREFIX"],
    # A killed worker's message comes back to the next worker within seconds, not an hour.
    "visibility_timeout": 2,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
ORDER_EMAIL_MAX_RETRIES = 3
ORDER_EMAIL_RETRY_BACKOFF = 0.2
ORDER_EMAIL_RETRY_BACKOFF_MAX = 1
ORDER_EMAIL_SMTP_TIMEOUT = 10
