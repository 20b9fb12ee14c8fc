"""The account's activity: one writer, a channel per entry, a reason from support."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from subscriptions.activity import Channel, activity_record
from subscriptions.models import AuditEntry


def test_a_billing_admins_change_needs_no_reason(account, admin):
    entry = activity_record(
        account=account,
        actor=admin,
        channel=Channel.PORTAL,
        action="vat_number_changed",
        before={"vat_number": ""},
        after={"vat_number": "DE136695976"},
    )
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (stored.channel, stored.actor, stored.reason) == ("portal", admin, "")
    assert stored.after == {"vat_number": "DE136695976"}


def test_support_must_give_a_reason(account, admin):
    with pytest.raises(ValidationError, match="reason is required"):
        activity_record(account=account, actor=admin, channel=Channel.ADMIN, action="x")
    assert not AuditEntry.objects.exists()


def test_the_database_refuses_a_support_entry_without_a_reason(account, admin):
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEntry.objects.create(account=account, actor=admin, channel="admin", action="x")


def test_an_unknown_channel_is_refused_by_the_database(account):
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEntry.objects.create(account=account, channel="email", action="x", reason="r")
