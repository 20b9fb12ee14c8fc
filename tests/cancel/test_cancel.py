"""Cancel at the end of the period from the Billing Center, keep it, and the refusals."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from subscriptions.models import AuditEntry, Subscription
from tests.factories import MembershipFactory, SubscriptionFactory
from tests.pages import shown

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def bob(account):
    """Another billing admin of Acme, who reads German."""
    return MembershipFactory(
        account=account, user__email="bob@acme.example", user__language="de"
    ).user


def cancel_url(subscription) -> str:
    return reverse("billing_center:cancel", args=[subscription.pk])


def keep_url(subscription) -> str:
    return reverse("billing_center:keep", args=[subscription.pk])


def home(client) -> str:
    return client.get(reverse("billing_center:home")).content.decode()


def test_the_options_menu_leads_to_a_confirmation_with_the_last_day_and_no_refund(
    frozen_now, anna, remote_support
):
    assert cancel_url(remote_support) in home(anna)
    page = anna.get(cancel_url(remote_support)).content.decode()
    # The period ends Dec 1 00:00 UTC: Dec 1 in Berlin too.
    assert shown(page, "ends-on") == "Dec. 1, 2026"
    assert "Nothing is refunded for the rest of the period" in page
    remote_support.refresh_from_db()
    assert not remote_support.cancel_at_period_end  # looking changes nothing


def test_canceling_shows_ends_on_writes_the_entry_and_emails_each_admin_in_their_language(
    frozen_now, anna, admin, bob, remote_support, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = anna.post(cancel_url(remote_support))
    assert response.status_code == 302
    remote_support.refresh_from_db()
    assert remote_support.cancel_at_period_end
    assert remote_support.status == Subscription.Status.ACTIVE  # until the period ends

    page = home(anna)
    assert "Ends on" in page and "Next billing date" not in page
    assert shown(page, "next-billing-date") == "Dec. 1, 2026"
    assert "Keep subscription" in page and keep_url(remote_support) in page
    assert cancel_url(remote_support) not in page  # not offered twice

    entry = AuditEntry.objects.get()
    assert (entry.action, entry.channel, entry.actor) == ("cancel_at_period_end", "portal", admin)
    assert entry.target == f"subscription {remote_support.pk} (Remote Support v5)"
    assert entry.reason == ""

    by_address = {message.to[0]: message for message in mail.outbox}
    assert sorted(by_address) == ["anna@acme.example", "bob@acme.example"]
    english, german = by_address["anna@acme.example"], by_address["bob@acme.example"]
    assert english.subject == "Remote Support v5 for Acme GmbH will end at the end of its period"
    assert "Ends on: Dec. 1, 2026" in english.body
    assert "Nothing is refunded" in english.body
    assert "Endet am: 1. Dezember 2026" in german.body
    assert "Remote Support v5" in german.subject and "endet" in german.subject


def test_keep_subscription_undoes_it_with_an_entry_and_an_email(
    frozen_now, anna, admin, remote_support, django_capture_on_commit_callbacks
):
    anna.post(cancel_url(remote_support))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = anna.post(keep_url(remote_support))
    assert response.status_code == 302
    remote_support.refresh_from_db()
    assert not remote_support.cancel_at_period_end
    page = home(anna)
    assert "Next billing date" in page and "Keep subscription" not in page
    assert list(AuditEntry.objects.order_by("at", "id").values_list("action", "channel")) == [
        ("cancel_at_period_end", "portal"),
        ("reactivated", "portal"),
    ]
    [message] = mail.outbox
    assert message.subject == "Remote Support v5 for Acme GmbH continues"
    assert "renews as before on Dec. 1, 2026" in message.body


def _nothing_changed(subscription, *, pending: bool) -> None:
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end is pending


def test_canceling_twice_is_refused_and_changes_nothing(
    frozen_now, anna, remote_support, django_capture_on_commit_callbacks
):
    anna.post(cancel_url(remote_support))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        page = anna.post(cancel_url(remote_support), follow=True).content.decode()
    assert "This subscription is already pending cancellation." in page
    assert AuditEntry.objects.count() == 1 and not mail.outbox
    _nothing_changed(remote_support, pending=True)


def test_keeping_one_not_pending_is_refused(frozen_now, anna, remote_support):
    page = anna.post(keep_url(remote_support), follow=True).content.decode()
    assert "This subscription is not pending cancellation." in page
    assert not AuditEntry.objects.exists()
    _nothing_changed(remote_support, pending=False)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("trial", "A free trial is not canceled: it ends on its own."),
        ("expired", "A free trial is not canceled: it ends on its own."),
        ("past_due", "Only an active subscription can be canceled or kept."),
        ("suspended", "Only an active subscription can be canceled or kept."),
    ],
)
def test_only_an_active_subscription_is_canceled(frozen_now, anna, account, status, message):
    subscription = SubscriptionFactory(account=account, status=status)
    page = anna.post(cancel_url(subscription), follow=True).content.decode()
    assert message in page
    assert not AuditEntry.objects.exists()
    _nothing_changed(subscription, pending=False)


def test_a_corporate_account_cannot_cancel_in_the_portal(frozen_now, anna, account, remote_support):
    account.billing_channel = "corporate"
    account.save(update_fields=["billing_channel"])
    assert anna.post(cancel_url(remote_support)).status_code == 403
    assert not AuditEntry.objects.exists()
    _nothing_changed(remote_support, pending=False)


def test_another_accounts_subscription_is_not_found(frozen_now, anna):
    other = SubscriptionFactory()
    assert anna.get(cancel_url(other)).status_code == 404
    assert anna.post(cancel_url(other)).status_code == 404
    assert anna.post(keep_url(other)).status_code == 404
    _nothing_changed(other, pending=False)


def test_the_confirmation_page_in_german(frozen_now, anna, remote_support):
    anna.cookies["django_language"] = "de"
    page = anna.get(cancel_url(remote_support), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert shown(page, "ends-on") == "1. Dezember 2026"
    assert "Abonnement kündigen" in page
