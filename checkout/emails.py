"""The emails of the checkout: the order confirmation, in the language of the admin who
placed the order, and the request to authenticate a renewal payment, in each billing
admin's own language."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from checkout.models import Order, Payment
from subscriptions.models import Membership


def _message(
    name: str, context: dict, language: str, *, to: list[str], cc: list[str] | None = None
) -> EmailMultiAlternatives:
    """The email ``templates/checkout/email/<name>[_subject].txt|.html``, in ``language``."""
    with translation.override(language):
        subject = render_to_string(f"checkout/email/{name}_subject.txt", context)
        text = render_to_string(f"checkout/email/{name}.txt", context)
        html = render_to_string(f"checkout/email/{name}.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        cc=cc or [],
    )
    message.attach_alternative(html, "text/html")
    return message


def order_confirmation_message(*, order: Order, base_url: str = "") -> EmailMultiAlternatives:
    """Build the email: to the admin who ordered, the account's other billing admins in copy."""
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
    context = {
        "order": order,
        "account": account,
        "lines": list(order.lines.all()),
        "order_url": base_url + reverse("checkout:order", args=[order.number]),
    }
    return _message("order_confirmation", context, order.language, to=to, cc=cc)


def order_confirmation_send(*, order: Order, connection: BaseEmailBackend | None = None) -> None:
    message = order_confirmation_message(order=order, base_url=settings.PORTAL_BASE_URL)
    message.connection = connection
    message.send()


def renewal_authentication_messages(
    *, payment: Payment, base_url: str = ""
) -> list[EmailMultiAlternatives]:
    """One email to each billing admin, in their language: the bank asks to authenticate
    the renewal payment, and the link to the page that does it."""
    from checkout.renewal_payments import renewal_payment_due

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
            "payment_url": base_url + reverse("checkout:renewal_payment", args=[payment.pk]),
        }
        language = user.language or settings.LANGUAGE_CODE
        message = _message("renewal_authentication", context, language, to=[user.email])
        messages.append(message)
    return messages


def renewal_authentication_send(
    *, payment: Payment, connection: BaseEmailBackend | None = None
) -> int:
    """Send the request to every billing admin; returns how many emails went."""
    messages = renewal_authentication_messages(payment=payment, base_url=settings.PORTAL_BASE_URL)
    connection = connection or get_connection()
    return connection.send_messages(messages) or 0
