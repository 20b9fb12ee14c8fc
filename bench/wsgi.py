"""The WSGI application `make bench` serves with gunicorn (``bench.wsgi:application``).

The portal as deployed, with one change: the order confirmation email is not
published. Place order still commits the order with its email pending and
calls the task's ``delay`` after the commit, exactly as in production; the
stand-in below only counts the call. The benchmark measures the portal, not a
broker or an SMTP server (``bench/renewals.py`` does the same).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

application = get_wsgi_application()


class CountingConfirmations:
    """Stands in for ``checkout.tasks.send_order_confirmation``: counts, sends nothing."""

    def __init__(self) -> None:
        self.queued = 0

    def delay(self, order_id: int) -> None:
        self.queued += 1


def suppress_confirmation_emails() -> CountingConfirmations:
    import checkout.tasks

    counter = CountingConfirmations()
    checkout.tasks.send_order_confirmation = counter
    return counter


confirmations = suppress_confirmation_emails()
