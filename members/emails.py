"""The invitation email, in the language of the admin who sent it."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from members.models import Invitation
from subscriptions.emails import email_message


def invitation_message(*, invitation: Invitation, token: str) -> EmailMultiAlternatives:
    inviter = invitation.invited_by
    context = {
        "invitation": invitation,
        "account": invitation.account,
        "inviter": (inviter.full_name or inviter.email) if inviter else "",
        "accept_url": settings.PORTAL_BASE_URL + reverse("members:accept", args=[token]),
    }
    return email_message(
        "members/email/invitation", context, invitation.language, to=[invitation.email]
    )
