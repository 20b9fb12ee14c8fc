"""Support in the Django admin: invitations revoked and resent, roles changed, members
removed and licenses assigned, each through the members' services with a reason."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse

from members.services import invitation_create
from subscriptions.models import AuditEntry, Membership, SeatAssignment
from tests.factories import UserFactory
from tests.subscriptions.test_admin import action_name, run_action

pytestmark = pytest.mark.django_db


@pytest.fixture
def support(client):
    user = UserFactory(email="support@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    client.force_login(user)
    return user


@pytest.fixture
def invitation(account, admin):
    return invitation_create(
        account=account, email="dora@example.org", role="member", invited_by=admin, language="de"
    ).invitation


def test_support_sees_invitations_and_revokes_one_with_a_reason(client, support, invitation):
    listing = client.get(reverse("admin:members_invitation_changelist")).content.decode()
    assert "dora@example.org" in listing and "pending" in listing
    name = action_name(client, "members_invitation", "Revoke the invitation")
    page = run_action(client, "members_invitation", name, invitation, confirm="1", reason="")
    assert "This field is required." in page.content.decode()
    invitation.refresh_from_db()
    assert invitation.revoked_at is None
    run_action(client, "members_invitation", name, invitation, confirm="1", reason="ticket 9")
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    entry = AuditEntry.objects.get(action="invitation_revoked")
    assert (entry.actor, entry.channel, entry.reason) == (support, "admin", "ticket 9")


def test_support_resends_an_invitation(
    client, support, invitation, django_capture_on_commit_callbacks
):
    name = action_name(
        client, "members_invitation", "Resend the invitation (new link, 7 more days)"
    )
    with django_capture_on_commit_callbacks(execute=True):
        run_action(client, "members_invitation", name, invitation, confirm="1", reason="lost it")
    (message,) = mail.outbox
    assert message.to == ["dora@example.org"] and "Einladung annehmen" in message.body


def test_support_cannot_demote_the_last_billing_admin(client, support, admin, account):
    membership = admin.memberships.get()
    name = action_name(client, "subscriptions_membership", "Change the role")
    page = run_action(
        client, "subscriptions_membership", name, membership, confirm="1", role="member", reason="x"
    ).content.decode()
    assert "only billing admin" in page
    assert Membership.objects.get(pk=membership.pk).role == "billing_admin"


def test_support_assigns_and_removes_through_the_services(client, support, account, bert, meetings):
    assign = action_name(client, "subscriptions_membership", "Assign a license")
    run_action(
        client,
        "subscriptions_membership",
        assign,
        bert,
        confirm="1",
        subscription=meetings.pk,
        reason="asked by Anna",
    )
    assert SeatAssignment.objects.filter(user=bert.user, subscription=meetings).exists()
    remove = action_name(
        client, "subscriptions_membership", "Remove from the account (frees their licenses)"
    )
    page = run_action(
        client, "subscriptions_membership", remove, bert, confirm="1", reason="left the company"
    ).content.decode()
    assert "Licenses freed: Meeting Rooms." in page
    assert not SeatAssignment.objects.exists()
    assert list(AuditEntry.objects.order_by("pk").values_list("action", "channel", "reason")) == [
        ("license_assigned", "admin", "asked by Anna"),
        ("member_removed", "admin", "left the company"),
    ]


def test_the_accounts_members_are_shown_but_not_edited_inline(client, support, account):
    page = client.get(reverse("admin:subscriptions_account_change", args=[account.pk]))
    body = page.content.decode()
    assert "anna@acme.example" in body
    assert "memberships-0-role" not in body
