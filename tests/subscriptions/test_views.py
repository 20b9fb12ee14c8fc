"""The first page: sign in with email, see the account's subscriptions."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from tests.factories import PASSWORD, MembershipFactory, SeatAssignmentFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("billing_center:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_sign_in_with_email_and_see_the_subscriptions(client):
    membership = MembershipFactory(account__name="Acme GmbH", user__email="anna@acme.example")
    subscription = SubscriptionFactory(
        account=membership.account, plan__product__name="Remote Support v5", seats=10
    )
    SeatAssignmentFactory(subscription=subscription)
    SubscriptionFactory(plan__product__name="Someone Else's Product")

    response = client.post(
        reverse("login"), {"username": "anna@acme.example", "password": PASSWORD}, follow=True
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Acme GmbH" in page
    assert "Remote Support v5" in page
    assert "€42.00" in page
    assert '<dd data-testid="seats">10</dd>' in page
    assert "<dt>Assigned to users</dt><dd>1</dd>" in page
    assert "Someone Else" not in page


def test_wrong_password_shows_an_error_and_signs_nobody_in(client):
    MembershipFactory(user__email="anna@acme.example")
    response = client.post(reverse("login"), {"username": "anna@acme.example", "password": "nope"})
    assert response.status_code == 200
    assert "correct email address and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_page_speaks_german(client):
    membership = MembershipFactory()
    SubscriptionFactory(account=membership.account)
    client.force_login(membership.user)
    response = client.get(reverse("billing_center:home"), headers={"accept-language": "de"})
    page = response.content.decode()
    assert response["Content-Language"] == "de"
    assert "Nächstes Rechnungsdatum" in page
    assert "Lizenzen" in page and "Monatlich" in page and "Abmelden" in page


def test_dates_are_shown_in_the_account_time_zone(client):
    # 2026-12-31 23:30 UTC is already New Year's Day in Berlin.
    membership = MembershipFactory(account__time_zone="Europe/Berlin")
    SubscriptionFactory(
        account=membership.account,
        billing_anchor=datetime(2026, 11, 30, 23, 30, tzinfo=UTC),
        current_period_end=datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
    )
    client.force_login(membership.user)
    page = client.get(reverse("billing_center:home")).content.decode()
    assert "Jan. 1, 2027" in page
    assert "Dec. 31, 2026" not in page
