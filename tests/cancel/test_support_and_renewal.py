"""Support's cancellation is the same service; the renewal run ends a canceled one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from checkout.models import Order
from payments.models import Payment
from subscriptions.activity import Channel
from subscriptions.models import AuditEntry, Subscription
from subscriptions.services import subscription_cancel_at_period_end
from tests.renewals.conftest import DEC_1, renew, subscribe
from tests.subscriptions.test_admin import action_name, run_action

pytestmark = pytest.mark.django_db


def test_supports_action_writes_the_admin_entry_with_its_reason_and_emails(
    client,
    support,
    account,
    remote_support,
    django_capture_on_commit_callbacks,
):
    cancel = action_name(client, "subscriptions_subscription", "Cancel at the end of the period")
    with django_capture_on_commit_callbacks(execute=True):
        run_action(
            client,
            "subscriptions_subscription",
            cancel,
            remote_support,
            reason="customer called",
            confirm="1",
        )
    remote_support.refresh_from_db()
    assert remote_support.cancel_at_period_end
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.channel, entry.actor, entry.reason) == (
        "cancel_at_period_end",
        Channel.ADMIN,
        support,
        "customer called",
    )
    [message] = mail.outbox
    assert message.to == ["anna@acme.example"]
    assert "Our support team canceled Remote Support v5 for Acme GmbH" in message.body


def test_support_must_give_a_reason(account, remote_support):
    with pytest.raises(ValidationError, match="A reason is required"):
        subscription_cancel_at_period_end(
            subscription=remote_support, cancel=True, actor=None, channel=Channel.ADMIN
        )
    remote_support.refresh_from_db()
    assert not remote_support.cancel_at_period_end and not AuditEntry.objects.exists()


def test_support_may_cancel_one_that_is_past_due_the_portal_may_not(account, admin):
    past_due = subscribe(account, status=Subscription.Status.PAST_DUE)
    with pytest.raises(ValidationError, match="Only an active subscription"):
        subscription_cancel_at_period_end(
            subscription=past_due, cancel=True, actor=admin, channel=Channel.PORTAL
        )
    subscription_cancel_at_period_end(
        subscription=past_due, cancel=True, actor=None, channel=Channel.ADMIN, reason="asked"
    )
    past_due.refresh_from_db()
    assert past_due.cancel_at_period_end


def test_the_renewal_at_period_end_ends_a_canceled_subscription_without_charging_it(
    acme,
):
    admin = acme.memberships.get().user
    subscription = subscribe(acme)
    subscription_cancel_at_period_end(
        subscription=subscription, cancel=True, actor=admin, channel=Channel.PORTAL
    )
    kept = subscribe(acme, plan__product__name="Meeting Rooms", seats=2)

    summary = renew(DEC_1)

    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.CANCELED
    assert subscription.current_period_end == DEC_1  # it ran to the end of its period
    assert (summary.canceled, summary.renewed) == (1, 1)
    assert not Order.objects.filter(lines__subscription=subscription).exists()
    assert Payment.objects.count() == 1  # the kept one's renewal only
    assert Order.objects.filter(lines__subscription=kept).count() == 1
    ended = AuditEntry.objects.get(action="subscription_ended")
    assert ended.channel == Channel.SYSTEM and ended.actor is None
    renewed = AuditEntry.objects.get(action="renewed")
    assert renewed.target == f"subscription {kept.pk} (Meeting Rooms)"
    assert renew(DEC_1 + timedelta(days=40)).canceled == 0  # once
