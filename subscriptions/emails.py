"""The portal's emails: a text and an HTML part from templates, in the reader's language.

Also the email that confirms a cancellation at period end, or keeping the
subscription: one to each billing admin of the account, in their language,
built from the activity entry the change wrote, so it says what was decided even
if the subscription changed again since.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.dateparse import parse_datetime

from subscriptions.cancellation import CANCELED_AT_PERIOD_END
from subscriptions.models import AuditEntry, Membership, Subscription


def email_message(
    name: str, context: dict, language: str, *, to: list[str], cc: list[str] | None = None
) -> EmailMultiAlternatives:
    """The email ``templates/<name>[_subject].txt|.html`` in ``language``; ``name`` is
    e.g. ``checkout/email/order_confirmation``."""
    with translation.override(language):
        subject = render_to_string(f"{name}_subject.txt", context)
        text = render_to_string(f"{name}.txt", context)
        html = render_to_string(f"{name}.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        cc=cc or [],
    )
    message.attach_alternative(html, "text/html")
    return message


def cancellation_messages(
    *, entry: AuditEntry, subscription: Subscription, base_url: str = ""
) -> list[EmailMultiAlternatives]:
    """One email per billing admin: canceled at period end (and the last day), or kept."""
    account = subscription.account
    canceled = entry.action == CANCELED_AT_PERIOD_END
    name = "subscriptions/email/" + ("subscription_canceled" if canceled else "subscription_kept")
    context = {
        "account": account,
        "product": subscription.plan.product.name,
        "ends": parse_datetime(entry.after.get("ends") or "") or subscription.current_period_end,
        "by_support": entry.channel == AuditEntry.Channel.ADMIN,
        "billing_center_url": base_url + reverse("billing_center:home"),
    }
    admins = (
        Membership.objects.filter(account=account, role=Membership.Role.BILLING_ADMIN)
        .select_related("user")
        .order_by("pk")
    )
    return [
        email_message(
            name,
            context,
            membership.user.language or settings.LANGUAGE_CODE,
            to=[membership.user.email],
        )
        for membership in admins
        if membership.user.email
    ]
