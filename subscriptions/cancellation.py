"""Cancel a subscription at the end of its period, or keep it after all.

One service for the billing admin in the Billing Center (``Channel.PORTAL``, no
reason needed) and for support in the Django admin (``Channel.ADMIN``, a reason
required). Nothing is refunded: the subscription runs to the end of the period
that is paid, and the renewal run ends it then instead of charging
(``renewals/steps.py``). Each change writes an activity entry in its own
transaction and, after commit, emails the account's billing admins.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from subscriptions.activity import Channel, activity_record
from subscriptions.models import Subscription, User

# Stable activity codes (the Activity page words them; tests/subscriptions/test_admin.py).
CANCELED_AT_PERIOD_END = "cancel_at_period_end"
KEPT = "reactivated"
# Support may still cancel one that is past due; a billing admin's own choice is
# only offered while the subscription is active.
_ADMIN_STATUSES = (Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE)


def subscription_target(subscription: Subscription) -> str:
    """How an activity entry names a subscription: "subscription 12 (Meeting Rooms)"."""
    return f"subscription {subscription.pk} ({subscription.plan.product.name})"


def _refusal(locked: Subscription, *, cancel: bool, channel: str) -> str:
    """Why the change cannot be made ('' when it can), in the admin's language."""
    if channel != Channel.ADMIN and locked.account.is_corporate:
        return _("This account is billed through its corporate billing channel.")
    if locked.status in (Subscription.Status.TRIAL, Subscription.Status.EXPIRED):
        return _("A free trial is not canceled: it ends on its own.")
    allowed = _ADMIN_STATUSES if channel == Channel.ADMIN else (Subscription.Status.ACTIVE,)
    if locked.status not in allowed:
        return _("Only an active subscription can be canceled or kept.")
    if locked.cancel_at_period_end == cancel:
        if cancel:
            return _("This subscription is already pending cancellation.")
        return _("This subscription is not pending cancellation.")
    return ""


def subscription_cancel_at_period_end(
    *,
    subscription: Subscription,
    cancel: bool,
    actor: User | None,
    channel: str,
    reason: str = "",
) -> Subscription:
    """Cancel at the end of the current period (``cancel``), or keep one pending cancellation.

    Refusals (already pending, not pending, not active, a trial, a corporate
    account in the portal) raise ``ValidationError`` and change nothing.
    """
    if channel == Channel.ADMIN and not (reason or "").strip():
        raise ValidationError(_("A reason is required."))
    with transaction.atomic():
        locked = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("account", "plan__product")
            .get(pk=subscription.pk)
        )
        if problem := _refusal(locked, cancel=cancel, channel=channel):
            raise ValidationError(problem)
        locked.cancel_at_period_end = cancel
        locked.save(update_fields=["cancel_at_period_end", "updated_at"])
        entry = activity_record(
            account=locked.account,
            actor=actor,
            channel=channel,
            action=CANCELED_AT_PERIOD_END if cancel else KEPT,
            target=subscription_target(locked),
            before={"cancel_at_period_end": not cancel},
            after={
                "cancel_at_period_end": cancel,
                "product": locked.plan.product.name,
                "ends": locked.current_period_end.isoformat(),
            },
            reason=reason,
        )
        from subscriptions.tasks import send_cancellation_email

        transaction.on_commit(
            lambda: send_cancellation_email.delay(entry.pk, locked.pk), robust=True
        )
    return locked
