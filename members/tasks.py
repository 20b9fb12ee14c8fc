"""The invitation email, sent after the invitation's transaction commits."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from members.emails import invitation_message
from members.models import Invitation, invitation_token_hash
from subscriptions import clock

logger = logging.getLogger(__name__)

SENT = "sent"
SKIPPED = "skipped"


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=30, max_retries=5)
def send_invitation(invitation_id: int, token: str) -> str:
    """Email the invitation's link, unless it was resent (a newer link), revoked or used
    since; safe to run twice (the invitation's row is held while sending)."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("account", "invited_by")
            .filter(pk=invitation_id)
            .first()
        )
        if (
            invitation is None
            or invitation.token_hash != invitation_token_hash(token)
            or invitation.status_at(clock.now()) != Invitation.Status.PENDING
            or invitation.sent_at is not None
        ):
            return SKIPPED
        invitation_message(invitation=invitation, token=token).send()
        invitation.sent_at = clock.now()
        invitation.save(update_fields=["sent_at"])
    logger.info("Invitation %s sent", invitation_id)
    return SENT
