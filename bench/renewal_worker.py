"""The Celery app for the renewals fan-out benchmark (bench/renewals.py --celery-workers N).

The real app and the real shard task; only the confirmation email of each
renewal order and the email of each declined one are counted instead of
published, as in the in-process run, so both figures measure the renewal and
not the email.
"""

from __future__ import annotations

from celery.signals import task_prerun

from billing_portal.celery import app

__all__ = ["app"]


class _CountedConfirmations:
    queued = 0

    def delay(self, order_id: int) -> None:
        type(self).queued += 1


@task_prerun.connect
def _count_confirmations(**_) -> None:
    import checkout.tasks
    import renewals.tasks

    if not isinstance(checkout.tasks.send_order_confirmation, _CountedConfirmations):
        checkout.tasks.send_order_confirmation = _CountedConfirmations()
        renewals.tasks.send_payment_failed_notice = _CountedConfirmations()
