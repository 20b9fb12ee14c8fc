"""The payments app's scheduled work (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from payments.reconcile import payments_reconcile


@shared_task(acks_late=True)
def reconcile_payments() -> dict:
    """Close payment attempts a crash, a timeout or an abandoned tab left open (beat)."""
    return payments_reconcile()
