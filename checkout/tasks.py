"""Side effects of an order, run after its transaction commits."""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from django.db import transaction

from checkout.emails import order_confirmation_send
from checkout.models import Order
from subscriptions import clock

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=6,
)
def send_order_confirmation(self, order_id: int) -> str:
    """Send an order's confirmation email once; safe to run twice.

    The order row is locked while sending so two runs cannot both send; a
    sent email is recorded on the order and never sent again.
    """
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("account", "placed_by")
            .get(pk=order_id)
        )
        if order.email_status == Order.EmailStatus.SENT:
            return "already sent"
        try:
            order_confirmation_send(order=order)
        except (smtplib.SMTPException, OSError) as error:
            if self.request.retries >= self.max_retries:
                order.email_status = Order.EmailStatus.FAILED
                order.email_error = f"{type(error).__name__}: {error}"[:500]
                order.save(update_fields=["email_status", "email_error"])
                logger.error("Confirmation for order %s failed for good: %s", order.number, error)
                return "failed"
            raise
        order.email_status = Order.EmailStatus.SENT
        order.email_error = ""
        order.email_sent_at = clock.now()
        order.save(update_fields=["email_status", "email_error", "email_sent_at"])
    return "sent"
