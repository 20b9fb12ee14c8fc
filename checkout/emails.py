"""The order confirmation, in the language of the admin who placed the order."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse

from checkout.models import Order
from checkout.signals import confirmation_attachments
from subscriptions.emails import email_message
from subscriptions.models import Membership

logger = logging.getLogger(__name__)


def order_confirmation_message(*, order: Order, base_url: str = "") -> EmailMultiAlternatives:
    """Build the email: to the admin who ordered; the account's other billing admins and its
    extra invoice recipients in copy."""
    account = order.account
    admins = list(
        Membership.objects.filter(account=account, role=Membership.Role.BILLING_ADMIN)
        .select_related("user")
        .values_list("user__email", flat=True)
    )
    # The admin who ordered; for a change support made on the account's behalf (or a
    # renewal), the account's billing admins.
    placed_by_admin = order.placed_by is not None and order.placed_by.email in admins
    to = [order.placed_by.email] if placed_by_admin else admins[:1]
    cc = sorted(email for email in admins if email not in to)
    # The billing profile's extra recipients (bookkeeping) get a copy of each
    # confirmation, a renewal's too.
    cc += [email for email in account.invoice_recipients if email not in to and email not in cc]
    context = {
        "order": order,
        "account": account,
        "lines": list(order.lines.all()),
        "order_url": base_url + reverse("checkout:order", args=[order.number]),
    }
    message = email_message(
        "checkout/email/order_confirmation", context, order.language, to=to, cc=cc
    )
    # The invoice PDF, from the invoices app (above this one). One that cannot be made
    # must not hold the confirmation back: it is logged, and the Invoices page has it.
    for receiver, answer in confirmation_attachments.send_robust(sender=Order, order=order):
        if isinstance(answer, Exception):
            logger.error(
                "No attachment from %s for order %s", receiver, order.number, exc_info=answer
            )
            continue
        for filename, content, mimetype in answer or []:
            message.attach(filename, content, mimetype)
    return message


def order_confirmation_send(*, order: Order, connection: BaseEmailBackend | None = None) -> None:
    message = order_confirmation_message(order=order, base_url=settings.PORTAL_BASE_URL)
    message.connection = connection
    message.send()
