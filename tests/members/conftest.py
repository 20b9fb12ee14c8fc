"""Acme's people: Anna (billing admin, signed in), Bert and Carla (members)."""

from __future__ import annotations

import pytest

from subscriptions.models import Membership
from tests.factories import MembershipFactory, SubscriptionFactory


@pytest.fixture
def signed_in(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def bert(account):
    return MembershipFactory(
        account=account,
        user__email="bert@acme.example",
        user__full_name="Bert Berg",
        role=Membership.Role.MEMBER,
    )


@pytest.fixture
def carla(account):
    return MembershipFactory(
        account=account,
        user__email="carla@acme.example",
        user__full_name="Carla Cruz",
        role=Membership.Role.MEMBER,
    )


@pytest.fixture
def meetings(account):
    """Meeting Rooms with 2 licenses, none assigned."""
    return SubscriptionFactory(account=account, plan__product__name="Meeting Rooms", seats=2)


@pytest.fixture
def anna_membership(admin, account):
    return admin.memberships.get(account=account)
