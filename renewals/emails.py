"""The request to authenticate a renewal payment, to each billing admin in their language."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse

from checkout.emails import email_message
from payments.models import Payment
from renewals.payments import renewal_payment_due
from subscriptions.models import Membership


def renewal_authentication_messages(
    *, payment: Payment, base_url: str = ""
) -> list[EmailMultiAlternatives]:
    """One email to each billing admin, in their language: the bank asks to authenticate
    the renewal payment, and the link to the page that does it."""
    due = renewal_payment_due(payment=payment)
    account = due.subscription.account
    admins = (
        Membership.objects.filter(account=account, role=Membership.Role.BILLING_ADMIN)
        .select_related("user")
        .order_by("pk")
    )
    messages = []
    for membership in admins:
        user = membership.user
        if not user.email:
            continue
        context = {
            "due": due,
            "account": account,
            "payment_url": base_url + reverse("renewals:renewal_payment", args=[payment.pk]),
        }
        language = user.language or settings.LANGUAGE_CODE
        message = email_message(
            "renewals/email/renewal_authentication", context, language, to=[user.email]
        )
        messages.append(message)
    return messages


def renewal_authentication_send(
    *, payment: Payment, connection: BaseEmailBackend | None = None
) -> int:
    """Send the request to every billing admin; returns how many emails went."""
    messages = renewal_authentication_messages(payment=payment, base_url=settings.PORTAL_BASE_URL)
    connection = connection or get_connection()
    return connection.send_messages(messages) or 0
