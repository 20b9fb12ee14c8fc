"""The one way to write an account's activity (``AuditEntry``).

Every change to an account writes one entry, in the same transaction as the
change itself, whoever makes it:

- ``PORTAL``: a billing admin in the Billing Center (``actor`` is them);
- ``ADMIN``: support in the Django admin (``actor`` is the staff user, and a
  ``reason`` is required: the database refuses an admin entry without one);
- ``OPERATIONS``: a ``manage.py`` command or a scheduled task (no actor);
- ``SYSTEM``: the portal on its own, e.g. a renewal's outcome (no actor).

``action`` is a short, stable code (``seat_change``, ``vat_number_changed``…):
the Activity page turns it into the customer's words, so keep codes stable and
put the details in ``before``/``after`` (JSON: strings, numbers, booleans).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError

from subscriptions import clock
from subscriptions.models import Account, AuditEntry, User

Channel = AuditEntry.Channel


def activity_entry(
    *,
    account: Account | int,
    action: str,
    channel: str,
    actor: User | None = None,
    target: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    at: datetime | None = None,
) -> AuditEntry:
    """An unsaved entry, for ``bulk_create`` of many (e.g. a command's batch)."""
    reason = (reason or "").strip()
    if channel == Channel.ADMIN and not reason:
        raise ValidationError("A reason is required.")
    account_field = {"account_id": account} if isinstance(account, int) else {"account": account}
    return AuditEntry(
        **account_field,
        actor=actor,
        action=action,
        channel=channel,
        target=target,
        before=before or {},
        after=after or {},
        reason=reason,
        at=at or clock.now(),
    )


def activity_record(**fields: Any) -> AuditEntry:
    """Write one entry now; call it inside the change's own transaction."""
    entry = activity_entry(**fields)
    entry.save(force_insert=True)
    return entry
