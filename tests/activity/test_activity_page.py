"""The Activity page: the account's changes in words, newest first, only its own."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from subscriptions.activity import Channel, activity_record
from subscriptions.models import AuditEntry
from tests.checkout.helpers import place
from tests.factories import MembershipFactory, SubscriptionFactory
from tests.shared_fixtures import AT, put_in_cart

pytestmark = pytest.mark.django_db

NEW_CARD = {"card_number": "5555 5555 5555 4444", "expiry": "12/35", "cvc": "321"}


@pytest.fixture
def anna(client, admin):
    admin.full_name = "Anna Admin"
    admin.save(update_fields=["full_name"])
    client.force_login(admin)
    return client


def activity_lines(client, **params) -> list[tuple[str, str]]:
    """(what, who) of each entry, as the page lists them."""
    page = client.get(reverse("billing_center:activity"), params).content.decode()
    whats = re.findall(r'<p class="what">([^<]*)</p>', page)
    whos = re.findall(r'<p class="who">([^<]*)</p>', page)
    return list(zip([w.replace("&#x27;", "'") for w in whats], whos, strict=True))


def test_self_service_changes_are_listed_in_words_newest_first(
    frozen_now, anna, admin, account, remote_support
):
    put_in_cart(remote_support, 7)
    place(account, admin)  # Place order, as the review page does
    frozen_now.shift(timedelta(minutes=1))
    anna.post(reverse("payments:payment_method"), NEW_CARD)
    frozen_now.shift(timedelta(minutes=1))
    anna.post(reverse("billing_center:cancel", args=[remote_support.pk]))
    frozen_now.shift(timedelta(minutes=1))
    anna.post(reverse("billing_center:keep", args=[remote_support.pk]))

    assert activity_lines(anna) == [
        ("Kept Remote Support v5: the cancellation was taken back.", "By Anna Admin"),
        (
            "Canceled Remote Support v5 at the end of its period: it ends on Dec. 26, 2026.",
            "By Anna Admin",
        ),
        ("Replaced the card Visa •••• 4242 with Mastercard •••• 4444.", "By Anna Admin"),
        ("Changed Remote Support v5 from 10 to 7 licenses.", "By Anna Admin"),
    ]
    assert set(AuditEntry.objects.values_list("channel", flat=True)) == {Channel.PORTAL}


def test_the_page_in_german_with_the_time_in_the_accounts_zone(frozen_now, anna, account):
    account.time_zone = "Europe/Berlin"
    account.save(update_fields=["time_zone"])
    SubscriptionFactory(account=account, plan__product__name="Meeting Rooms")
    activity_record(
        account=account,
        channel=Channel.SYSTEM,
        action="renewal_payment_failed",
        target="subscription 1 (Meeting Rooms)",
        after={"amount": "499.80", "currency": "EUR", "next_attempt": "2026-12-02T00:00:00+00:00"},
    )
    page = anna.get(reverse("billing_center:activity"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Die Verlängerungszahlung von 499,80\xa0€ für Meeting Rooms ist fehlgeschlagen." in page
    assert "Sie wird am 2. Dezember 2026 erneut versucht." in page
    assert "Automatisch" in page
    assert "26. November 2026 13:00" in page  # 12:00 UTC in Berlin


def test_an_eu_business_adding_its_vat_number_in_checkout_is_listed(client, frozen_now):
    membership = MembershipFactory(account__country="FR", user__full_name="Claire")
    subscription = SubscriptionFactory(account=membership.account, seats=10)
    put_in_cart(subscription, 12)
    client.force_login(membership.user)
    client.post(reverse("checkout:vat_number"), {"vat_number": "FR 40 303 265 045"})
    assert activity_lines(client) == [("Added the VAT number FR40303265045.", "By Claire")]
    entry = AuditEntry.objects.get()
    assert (entry.channel, entry.actor) == (Channel.PORTAL, membership.user)


def test_who_is_support_operations_or_automatic_and_unknown_codes_get_words(
    frozen_now, anna, account, remote_support
):
    from tests.factories import UserFactory

    staff = UserFactory(email="support@example.com", is_staff=True)
    activity_record(
        account=account,
        actor=staff,
        channel=Channel.ADMIN,
        action="cancel_at_period_end",
        target=f"subscription {remote_support.pk} (Remote Support v5)",
        after={"ends": "2026-12-01T00:00:00+00:00"},
        reason="customer called",
    )
    activity_record(
        account=account,
        channel=Channel.OPERATIONS,
        action="trial_expired",
        target=f"subscription {remote_support.pk}",  # the product is looked up
        at=AT - timedelta(hours=1),
    )
    activity_record(
        account=account,
        channel=Channel.SYSTEM,
        action="something_new",
        target="invoice 7",
        at=AT - timedelta(hours=2),
    )
    assert activity_lines(anna) == [
        (
            "Canceled Remote Support v5 at the end of its period: it ends on Dec. 1, 2026.",
            "By our support team",
        ),
        ("The free trial of Remote Support v5 ended.", "By our operations team"),
        ("Changed invoice 7.", "Automatically"),
    ]
    page = anna.get(reverse("billing_center:activity")).content.decode()
    assert "customer called" not in page and "support@example.com" not in page


def test_another_accounts_entries_are_never_shown(frozen_now, anna, account):
    other = MembershipFactory(account__name="Globex").account
    activity_record(
        account=other, channel=Channel.SYSTEM, action="something_new", target="secret thing"
    )
    page = anna.get(reverse("billing_center:activity")).content.decode()
    assert "secret thing" not in page
    assert "Nothing has changed on this account yet." in page


def _record(account, count: int) -> None:
    AuditEntry.objects.bulk_create(
        AuditEntry(
            account=account,
            channel=Channel.PORTAL,
            actor=account.memberships.get().user,
            action="seat_change",
            target="subscription 1 (Remote Support v5)",
            before={"seats": n, "status": "active"},
            after={"seats": n + 1, "status": "active"},
            at=AT - timedelta(minutes=n),
        )
        for n in range(count)
    )


def queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("billing_center:activity")).status_code == 200
    return len(captured)


def test_the_query_count_does_not_grow_with_the_entries_and_pages_are_25(frozen_now, anna, account):
    _record(account, 2)
    few = queries(anna)
    _record(account, 58)
    assert queries(anna) == few
    assert len(activity_lines(anna)) == 25
    assert len(activity_lines(anna, page=3)) == 10
    last = anna.get(reverse("billing_center:activity"), {"page": 3}).content.decode()
    assert "Page 3 of 3" in last and 'rel="prev"' in last and 'rel="next"' not in last


def test_a_member_who_is_not_billing_admin_cannot_see_it(client, account):
    member = MembershipFactory(account=account, role="member").user
    client.force_login(member)
    assert client.get(reverse("billing_center:activity")).status_code == 403


def test_a_card_entered_at_checkout_that_pays_is_listed_with_the_seat_change(
    frozen_now, anna, admin, account, remote_support
):
    from payments.gateways import CardDetails

    put_in_cart(remote_support, 7)
    card = CardDetails(number="5555555555554444", exp_month=4, exp_year=2031, cvc="123")
    order = place(account, admin, card=card)
    assert sorted(activity_lines(anna)) == [
        ("Changed Remote Support v5 from 10 to 7 licenses.", "By Anna Admin"),
        (
            f"Paid order {order.number} with the card Mastercard •••• 4444, now the card on file.",
            "By Anna Admin",
        ),
    ]
