"""A canceled subscription is offered again with "Subscribe now", through the checkout."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from subscriptions.models import AuditEntry, SeatChange, Subscription
from tests.factories import SubscriptionFactory
from tests.pages import review_token, shown

pytestmark = pytest.mark.django_db

SEP_1 = datetime(2026, 9, 1, tzinfo=UTC)


@pytest.fixture
def anna(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def ended(account):
    """Meeting Rooms, canceled at the end of September: 4 licenses then."""
    return SubscriptionFactory(
        account=account,
        plan__product__name="Meeting Rooms",
        status=Subscription.Status.CANCELED,
        cancel_at_period_end=True,
        seats=4,
        billing_anchor=SEP_1,
    )


def home(client) -> str:
    return client.get(reverse("billing_center:home")).content.decode()


def edit_url(subscription) -> str:
    return reverse("billing_center:edit", args=[subscription.pk])


def test_the_billing_center_offers_subscribe_now_for_an_ended_subscription(frozen_now, anna, ended):
    page = home(anna)
    assert "Meeting Rooms" in page and "Subscribe now" in page and edit_url(ended) in page
    assert "Ended on" in page and "Oct. 1, 2026" in page
    assert "This subscription has ended. Subscribe again" in page
    edit = anna.get(edit_url(ended)).content.decode()
    assert "Subscribe now" in edit and "Current licenses" in edit


def test_subscribe_now_places_an_order_that_starts_it_again(frozen_now, anna, admin, ended):
    assert anna.post(edit_url(ended), {"seats": "6", "add": "1"}).status_code == 302
    review = anna.get(reverse("checkout:review")).content.decode()
    # Bought from 0 licenses, a full month from now: 6 × €42.00 + 19 % VAT.
    assert shown(review, "amount-due") == "€299.88"
    placed = anna.post(reverse("checkout:place"), {"review": review_token(review)})
    assert placed.status_code == 302

    ended.refresh_from_db()
    assert ended.status == Subscription.Status.ACTIVE and ended.seats == 6
    assert not ended.cancel_at_period_end  # a new start, no longer ending
    assert ended.current_period_start == frozen_now_at()
    change = SeatChange.objects.get(subscription=ended)
    assert (change.from_seats, change.to_seats) == (0, 6)
    entry = AuditEntry.objects.get(action="seat_change")
    assert (entry.channel, entry.actor) == ("portal", admin)
    assert entry.before == {"seats": 0, "status": "canceled"}
    page = home(anna)
    assert "Next billing date" in page and "Dec. 26, 2026" in page


def frozen_now_at():
    from tests.shared_fixtures import AT

    return AT


def test_a_canceled_subscription_replaced_by_an_open_one_is_not_offered(
    frozen_now, anna, account, ended
):
    SubscriptionFactory(account=account, plan=ended.plan, seats=2)
    page = home(anna)
    assert edit_url(ended) not in page and "Ended on" not in page
    assert anna.get(edit_url(ended)).status_code == 404
    assert anna.post(edit_url(ended), {"seats": "6", "add": "1"}).status_code == 404


def test_only_the_latest_canceled_one_of_a_product_is_offered(frozen_now, anna, account, ended):
    older = SubscriptionFactory(
        account=account,
        plan=ended.plan,
        status=Subscription.Status.CANCELED,
        billing_anchor=datetime(2026, 5, 1, tzinfo=UTC),
    )
    page = home(anna)
    assert edit_url(ended) in page and edit_url(older) not in page
    assert page.count("Subscribe now") == 1
