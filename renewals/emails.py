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


def _billing_admins(account) -> list:
    return [
        membership.user
        for membership in Membership.objects.filter(
            account=account, role=Membership.Role.BILLING_ADMIN
        )
        .select_related("user")
        .order_by("pk")
        if membership.user.email
    ]


def payment_failed_messages(*, notice, base_url: str = "") -> list[EmailMultiAlternatives]:
    """One email to each billing admin, in their language: the renewal charge failed, the
    amount, the next try (or the suspension), and the link to Pay now."""
    from renewals.notices import is_last_try

    due = renewal_payment_due(payment=notice.payment)
    subscription = due.subscription
    context = {
        "due": due,
        "account": subscription.account,
        "suspended": subscription.status == subscription.Status.SUSPENDED,
        "authentication_failed": notice.payment.failure_reason == "authentication_failed",
        "next_attempt_at": subscription.next_renewal_attempt_at,
        "last_try": is_last_try(subscription),
        "pay_url": base_url + reverse("renewals:renewal_pay", args=[subscription.pk]),
        "billing_center_url": base_url + reverse("billing_center:home"),
    }
    return [
        email_message(
            "renewals/email/payment_failed",
            context,
            user.language or settings.LANGUAGE_CODE,
            to=[user.email],
        )
        for user in _billing_admins(subscription.account)
    ]


def payment_failed_send(*, notice, connection: BaseEmailBackend | None = None) -> int:
    messages = payment_failed_messages(notice=notice, base_url=settings.PORTAL_BASE_URL)
    connection = connection or get_connection()
    return connection.send_messages(messages) or 0


def renewal_reminder_messages(*, reminder, base_url: str = "") -> list[EmailMultiAlternatives]:
    """One email to each billing admin, in their language: the yearly subscription renews
    on this date for this amount, and where to change or cancel it."""
    subscription = reminder.subscription
    context = {
        "reminder": reminder,
        "subscription": subscription,
        "product": subscription.plan.product.name,
        "account": subscription.account,
        "billing_center_url": base_url + reverse("billing_center:home"),
    }
    return [
        email_message(
            "renewals/email/renewal_reminder",
            context,
            user.language or settings.LANGUAGE_CODE,
            to=[user.email],
        )
        for user in _billing_admins(subscription.account)
    ]


def renewal_reminder_send(*, reminder, connection: BaseEmailBackend | None = None) -> int:
    messages = renewal_reminder_messages(reminder=reminder, base_url=settings.PORTAL_BASE_URL)
    connection = connection or get_connection()
    return connection.send_messages(messages) or 0
