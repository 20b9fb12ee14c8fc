"""Changing a member's role and removing a member; the last billing admin stays."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from members.services import membership_remove, membership_role_change
from subscriptions.activity import Channel
from subscriptions.models import AuditEntry, Membership, SeatAssignment
from tests.factories import MembershipFactory, SeatAssignmentFactory
from tests.members.pages import member_rows

pytestmark = pytest.mark.django_db

USERS = reverse("members:users")


def role_of(membership) -> str:
    return Membership.objects.get(pk=membership.pk).role


def test_a_member_is_made_billing_admin_and_back(signed_in, admin, bert):
    html = signed_in.post(
        reverse("members:role", args=[bert.pk]), {"role": "billing_admin"}, follow=True
    ).content.decode()
    assert "bert@acme.example is now: Billing admin." in html
    assert role_of(bert) == "billing_admin"
    signed_in.post(reverse("members:role", args=[bert.pk]), {"role": "member"})
    assert role_of(bert) == "member"
    entries = AuditEntry.objects.filter(action="member_role_changed").order_by("pk")
    assert [(e.before["role"], e.after["role"], e.actor) for e in entries] == [
        ("member", "billing_admin", admin),
        ("billing_admin", "member", admin),
    ]


def test_the_last_billing_admin_cannot_be_demoted(signed_in, anna_membership, bert):
    html = signed_in.post(
        reverse("members:role", args=[anna_membership.pk]), {"role": "member"}, follow=True
    ).content.decode()
    assert (
        "anna@acme.example is the account&#x27;s only billing admin. "
        "Make someone else a billing admin first."
    ) in html
    assert role_of(anna_membership) == "billing_admin"
    assert not AuditEntry.objects.exists()


def test_the_last_billing_admin_cannot_be_removed(signed_in, anna_membership):
    page = signed_in.get(reverse("members:remove", args=[anna_membership.pk])).content.decode()
    assert "only billing admin and cannot be removed" in page
    html = signed_in.post(
        reverse("members:remove", args=[anna_membership.pk]), follow=True
    ).content.decode()
    assert (
        "anna@acme.example is the account&#x27;s only billing admin and cannot be removed." in html
    )
    assert Membership.objects.filter(pk=anna_membership.pk).exists()
    assert not AuditEntry.objects.exists()


def test_with_a_second_billing_admin_the_first_can_step_down(signed_in, anna_membership, bert):
    membership_role_change(membership=bert, role="billing_admin", actor=None)
    signed_in.post(reverse("members:role", args=[anna_membership.pk]), {"role": "member"})
    assert role_of(anna_membership) == "member"
    # Then Bert is the only one left, and he cannot step down.
    with pytest.raises(ValidationError, match="only billing admin"):
        membership_role_change(membership=bert, role="member", actor=bert.user)


def test_removing_a_member_frees_their_licenses(signed_in, admin, bert, carla, meetings):
    SeatAssignmentFactory(subscription=meetings, user=bert.user)
    SeatAssignmentFactory(subscription=meetings, user=carla.user)
    page = signed_in.get(reverse("members:remove", args=[bert.pk])).content.decode()
    assert "Remove Bert Berg?" in page and "Meeting Rooms" in page
    html = signed_in.post(reverse("members:remove", args=[bert.pk]), follow=True).content.decode()
    assert "bert@acme.example was removed from Acme GmbH." in html
    assert set(member_rows(html)) == {"anna@acme.example", "carla@acme.example"}
    assert not Membership.objects.filter(pk=bert.pk).exists()
    assert list(SeatAssignment.objects.values_list("user__email", flat=True)) == [
        "carla@acme.example"
    ]
    entry = AuditEntry.objects.get(action="member_removed")
    assert entry.actor == admin and entry.before == {"role": "member", "licenses": "Meeting Rooms"}


def test_removing_keeps_the_licenses_they_hold_on_another_account(bert, meetings):
    elsewhere = MembershipFactory(user=bert.user, account__name="Other AG")
    theirs = SeatAssignmentFactory(subscription__account=elsewhere.account, user=bert.user)
    membership_remove(membership=bert, actor=None, channel=Channel.OPERATIONS)
    assert SeatAssignment.objects.filter(pk=theirs.pk).exists()


def test_another_accounts_member_is_not_found(signed_in):
    theirs = MembershipFactory(account__name="Globex", role="member")
    assert (
        signed_in.post(
            reverse("members:role", args=[theirs.pk]), {"role": "billing_admin"}
        ).status_code
        == 404
    )
    assert signed_in.get(reverse("members:remove", args=[theirs.pk])).status_code == 404
    assert signed_in.post(reverse("members:remove", args=[theirs.pk])).status_code == 404
    assert role_of(theirs) == "member"


def test_an_unknown_role_is_refused(signed_in, bert):
    html = signed_in.post(
        reverse("members:role", args=[bert.pk]), {"role": "owner"}, follow=True
    ).content.decode()
    assert "Choose a role." in html
    assert role_of(bert) == "member"


def test_support_changes_a_role_with_a_reason(bert):
    staff = MembershipFactory(user__is_staff=True).user
    membership_role_change(
        membership=bert, role="billing_admin", actor=staff, channel=Channel.ADMIN, reason="asked"
    )
    entry = AuditEntry.objects.get(action="member_role_changed")
    assert (entry.channel, entry.reason, entry.actor) == ("admin", "asked", staff)


@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_billing_admin(account, admin, bert):
    """Each change locks all of the account's memberships first, so the second one sees
    the first's result and is refused."""
    membership_role_change(membership=bert, role="billing_admin", actor=None)
    anna = admin.memberships.get()
    barrier = threading.Barrier(2)
    outcomes = []

    def demote(membership, actor):
        try:
            barrier.wait(timeout=10)
            membership_role_change(membership=membership, role="member", actor=actor)
            outcomes.append("demoted")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=demote, args=(anna, bert.user)),
        threading.Thread(target=demote, args=(bert, admin)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["demoted", "refused"]
    assert Membership.objects.filter(account=account, role="billing_admin").count() == 1
