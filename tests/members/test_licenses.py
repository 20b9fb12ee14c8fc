"""Assigning and unassigning licenses on the Users page: only to members, never more than
the subscription has; each change in the activity trail; refusals change nothing."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from subscriptions.activity import Channel
from subscriptions.models import AuditEntry, SeatAssignment
from subscriptions.services import seat_assign, seat_unassign
from tests.factories import MembershipFactory, SeatAssignmentFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

USERS = reverse("members:users")


def holders(subscription) -> set[str]:
    return set(subscription.assignments.values_list("user__email", flat=True))


def post(client, name, subscription, membership, **extra):
    return client.post(
        reverse(f"members:{name}"),
        {"subscription": subscription.pk, "member": membership.pk},
        follow=True,
        **extra,
    )


def test_assigning_a_license_shows_on_the_page_and_in_the_activity(
    signed_in, admin, bert, meetings
):
    response = post(signed_in, "assign", meetings, bert)
    html = response.content.decode()
    assert "bert@acme.example now holds a license of Meeting Rooms." in html
    assert "1 of 2 licenses assigned" in html
    assert holders(meetings) == {"bert@acme.example"}
    entry = AuditEntry.objects.get(action="license_assigned")
    assert entry.actor == admin and entry.channel == Channel.PORTAL
    assert entry.target == f"subscription {meetings.pk} (Meeting Rooms)"
    assert entry.after == {"user": "bert@acme.example", "assigned": 1}


def test_unassigning_frees_the_license(signed_in, admin, bert, meetings):
    SeatAssignmentFactory(subscription=meetings, user=bert.user)
    html = post(signed_in, "unassign", meetings, bert).content.decode()
    assert "The license of Meeting Rooms held by bert@acme.example is free again." in html
    assert "0 of 2 licenses assigned" in html
    assert holders(meetings) == set()
    entry = AuditEntry.objects.get(action="license_unassigned")
    assert entry.actor == admin and entry.before["assigned"] == 1 and entry.after["assigned"] == 0


def test_no_more_licenses_are_assigned_than_the_subscription_has(
    signed_in, anna_membership, bert, carla, meetings
):
    post(signed_in, "assign", meetings, bert)
    post(signed_in, "assign", meetings, carla)
    html = post(signed_in, "assign", meetings, anna_membership).content.decode()
    assert (
        "Meeting Rooms has 2 licenses and all are assigned; add licenses or unassign one first."
        in html
    )
    assert "All licenses are assigned." in html
    assert holders(meetings) == {"bert@acme.example", "carla@acme.example"}
    assert AuditEntry.objects.filter(action="license_assigned").count() == 2


def test_the_refusal_is_said_in_german(signed_in, bert, carla, meetings):
    meetings.seats = 1
    meetings.save()
    SeatAssignmentFactory(subscription=meetings, user=carla.user)
    html = post(signed_in, "assign", meetings, bert, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Meeting Rooms hat 1 Lizenz und sie ist zugewiesen" in html
    assert holders(meetings) == {"carla@acme.example"}


def test_a_non_member_cannot_get_a_license(account, meetings, user_of_another_account):
    with pytest.raises(ValidationError, match="is not a member of Acme GmbH"):
        seat_assign(subscription=meetings, user=user_of_another_account.user)
    assert holders(meetings) == set()
    assert not AuditEntry.objects.exists()


@pytest.fixture
def user_of_another_account():
    return MembershipFactory(account__name="Globex", user__email="hank@globex.example")


def test_another_accounts_member_or_subscription_is_not_found(
    signed_in, bert, meetings, user_of_another_account
):
    theirs = SubscriptionFactory(account=user_of_another_account.account)
    assert post(signed_in, "assign", meetings, user_of_another_account).status_code == 404
    assert post(signed_in, "assign", theirs, bert).status_code == 404
    assert post(signed_in, "unassign", theirs, bert).status_code == 404
    response = signed_in.post(reverse("members:assign"), {"subscription": "x", "member": "1"})
    assert response.status_code == 404
    assert not SeatAssignment.objects.exists()


def test_unassigning_a_license_not_held_is_refused(signed_in, bert, meetings):
    html = post(signed_in, "unassign", meetings, bert).content.decode()
    assert "bert@acme.example holds no license of Meeting Rooms." in html
    assert not AuditEntry.objects.exists()


def test_support_assigns_with_a_reason_through_the_same_service(account, bert, meetings):
    staff = MembershipFactory(user__is_staff=True).user
    with pytest.raises(ValidationError, match="reason"):
        seat_assign(subscription=meetings, user=bert.user, actor=staff, channel=Channel.ADMIN)
    assert holders(meetings) == set()
    seat_assign(
        subscription=meetings, user=bert.user, actor=staff, channel=Channel.ADMIN, reason="ticket 7"
    )
    seat_unassign(
        subscription=meetings, user=bert.user, actor=staff, channel=Channel.ADMIN, reason="ticket 8"
    )
    assert list(AuditEntry.objects.order_by("pk").values_list("action", "channel", "reason")) == [
        ("license_assigned", "admin", "ticket 7"),
        ("license_unassigned", "admin", "ticket 8"),
    ]


@pytest.mark.django_db(transaction=True)
def test_two_assignments_at_once_never_exceed_the_licenses(account, bert, carla):
    """Both wait for the subscription's row lock; the second counts the first's license."""
    one_license = SubscriptionFactory(account=account, plan__product__name="Solo", seats=1)
    barrier = threading.Barrier(2)
    outcomes = []

    def assign(membership):
        try:
            barrier.wait(timeout=10)
            seat_assign(subscription=one_license, user=membership.user)
            outcomes.append("assigned")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=assign, args=(m,)) for m in (bert, carla)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["assigned", "refused"]
    assert one_license.assignments.count() == 1
