"""The portal's emails: a text and an HTML part from templates, in the reader's language."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation


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
