"""The Activity page words what the Users page, the billing profile and Pay now changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from members.services import (
    invitation_create,
    invitation_revoke,
    membership_remove,
    membership_role_change,
)
from subscriptions.activity import Channel, activity_record
from subscriptions.billing_profile import BillingAddress, account_billing_profile_update
from subscriptions.models import Membership
from subscriptions.services import seat_assign, seat_unassign
from tests.activity.test_activity_page import activity_lines
from tests.factories import MembershipFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def anna(client, admin):
    admin.full_name = "Anna Admin"
    admin.save(update_fields=["full_name"])
    client.force_login(admin)
    return client


def test_people_profile_and_pay_now_in_words(frozen_now, anna, admin, account):
    meetings = SubscriptionFactory(account=account, plan__product__name="Meeting Rooms", seats=2)
    bert = MembershipFactory(account=account, user__email="bert@acme.example", role="member")
    by_anna = {"actor": admin, "channel": Channel.PORTAL}

    def step(write):
        write()
        frozen_now.shift(timedelta(minutes=1))

    step(lambda: seat_assign(subscription=meetings, user=bert.user, **by_anna))
    step(lambda: seat_unassign(subscription=meetings, user=bert.user, **by_anna))
    sent = invitation_create(
        account=account, email="carla@acme.example", role="member", invited_by=admin, language="en"
    )
    frozen_now.shift(timedelta(minutes=1))
    step(lambda: invitation_revoke(invitation=sent.invitation, **by_anna))
    step(lambda: membership_role_change(membership=bert, role="billing_admin", **by_anna))
    step(lambda: membership_remove(membership=Membership.objects.get(pk=bert.pk), **by_anna))
    step(
        lambda: account_billing_profile_update(
            account=account,
            address=BillingAddress(address_line1="Friedrichstraße 1", city="Berlin"),
            vat_number="",
            invoice_recipients=["books@acme.example"],
            **by_anna,
        )
    )
    activity_record(
        account=account,
        action="renewal_paid_now",
        target=f"subscription {meetings.pk} (Meeting Rooms)",
        after={"status": "active", "order": "RN-1", "amount": "99.96", "currency": "EUR"},
        **by_anna,
    )

    whats = [what for what, _who in activity_lines(anna)]
    assert whats == [
        "Paid the overdue renewal of Meeting Rooms: €99.96 (order RN-1).",
        "Invoice emails now also go to books@acme.example.",
        "Changed the billing address.",
        "Removed bert@acme.example from the account.",
        "Made bert@acme.example a billing admin.",
        "Revoked the invitation to carla@acme.example.",
        "Invited carla@acme.example as member.",
        "Took the license of Meeting Rooms from bert@acme.example.",
        "Gave bert@acme.example a license of Meeting Rooms.",
    ]
    german = anna.get(reverse("billing_center:activity"), HTTP_ACCEPT_LANGUAGE="de")
    page = german.content.decode()
    assert "bert@acme.example ist jetzt Abrechnungsadministrator." in page
    assert "Die Einladung an carla@acme.example wurde zurückgezogen." in page


def test_a_renewal_paid_by_credit_says_so(frozen_now, anna, account):
    for amount in ("0.00", "45.22"):
        activity_record(
            account=account,
            channel=Channel.SYSTEM,
            action="renewed",
            target="subscription 1 (Meeting Rooms)",
            after={"period_end": "2027-01-10T00:00:00+00:00", "amount": amount, "currency": "EUR"},
        )
        frozen_now.shift(timedelta(minutes=1))
    assert [what for what, _who in activity_lines(anna)] == [
        "Renewed Meeting Rooms until Jan. 10, 2027 for €45.22.",
        "Renewed Meeting Rooms until Jan. 10, 2027, paid with the account's credit.",
    ]
