"""The Users page: who is a member, their role, the licenses each holds; for billing
admins of this account only, in a constant number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from subscriptions.models import Membership
from tests.factories import MembershipFactory, SeatAssignmentFactory, SubscriptionFactory
from tests.members.pages import member_rows

pytestmark = pytest.mark.django_db

USERS = reverse("members:users")


def test_the_page_shows_each_member_with_role_and_licenses(signed_in, bert, carla, meetings):
    SeatAssignmentFactory(subscription=meetings, user=bert.user)
    html = signed_in.get(USERS).content.decode()
    rows = member_rows(html)
    assert set(rows) == {"anna@acme.example", "bert@acme.example", "carla@acme.example"}
    assert "Billing admin" in rows["anna@acme.example"]
    assert "Member" in rows["bert@acme.example"] and "Meeting Rooms" in rows["bert@acme.example"]
    assert "Licenses: none" in rows["carla@acme.example"]
    assert "1 of 2 licenses assigned" in html


def test_the_page_speaks_german(signed_in, bert, meetings):
    SeatAssignmentFactory(subscription=meetings, user=bert.user)
    html = signed_in.get(USERS, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Benutzer" in html and "Mitglied einladen" in html
    assert "1 von 2 Lizenzen zugewiesen" in html


def test_a_member_who_is_no_billing_admin_is_refused(client, bert):
    client.force_login(bert.user)
    response = client.get(USERS)
    assert response.status_code == 403
    assert "Ask your billing admin" in response.content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(USERS)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(USERS).status_code == 200
    return len(captured)


def test_the_query_count_does_not_grow_with_members_or_subscriptions(signed_in, account, meetings):
    few = _queries(signed_in)
    for n in range(5):
        member = MembershipFactory(account=account, role=Membership.Role.MEMBER)
        subscription = SubscriptionFactory(account=account, seats=3)
        SeatAssignmentFactory(subscription=subscription, user=member.user)
        if n < 2:
            SeatAssignmentFactory(subscription=meetings, user=member.user)
    signed_in.post(reverse("members:invite"), {"email": "new@acme.example", "role": "member"})
    signed_in.get(USERS)  # shows (and so clears) the "Invitation sent" message
    assert _queries(signed_in) == few


def test_the_navigation_links_the_users_page(signed_in):
    html = signed_in.get(reverse("billing_center:home")).content.decode()
    assert f'href="{USERS}"' in html


def test_a_corporate_accounts_admin_manages_its_users_too(client):
    """People are not billing: the Users page serves corporate accounts as well, without
    the self-service links."""
    globex = MembershipFactory(account__name="Globex", account__billing_channel="corporate")
    meetings = SubscriptionFactory(account=globex.account, seats=1)
    SeatAssignmentFactory(subscription=meetings, user=globex.user)
    client.force_login(globex.user)
    response = client.get(USERS)
    html = response.content.decode()
    assert response.status_code == 200 and "1 of 1 license assigned" in html
    assert "/edit/" not in html
