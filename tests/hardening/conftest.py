"""Fixtures the hardening tests share."""

from __future__ import annotations

import pytest

from tests.factories import MembershipFactory, PaymentMethodFactory, SubscriptionFactory
from tests.shared_fixtures import NOV_1, put_in_cart


@pytest.fixture
def french_business(client, frozen_now):
    """A French company (destination VAT, 20 %) reviewing 10 → 12 licenses, signed in."""
    membership = MembershipFactory(
        account__name="Société Exemple SA", account__country="FR", account__time_zone="Europe/Paris"
    )
    PaymentMethodFactory(account=membership.account)
    subscription = SubscriptionFactory(account=membership.account, seats=10, billing_anchor=NOV_1)
    put_in_cart(subscription, 12)
    client.force_login(membership.user)
    return membership.account
