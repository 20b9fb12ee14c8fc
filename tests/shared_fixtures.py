"""Fixtures every test package shares: Acme's billing admin, its subscription, a frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.utils import timezone

if TYPE_CHECKING:
    from checkout.models import CartLine

# The models and factories are imported inside the fixtures: every package loads this
# module, also `pytest -p no:django` for the pure billing-rule tests, where importing a
# model fails (Django is not set up).

NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)
AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def frozen_now():
    """The portal's clock stands at 2026-11-26 12:00 UTC."""
    with time_machine.travel(AT, tick=False) as traveller:
        yield traveller


@pytest.fixture
def admin(db):
    """Acme's billing admin; Acme is a German self-service customer with a card on file."""
    from tests.factories import MembershipFactory, PaymentMethodFactory

    membership = MembershipFactory(
        account__name="Acme GmbH", account__country="DE", user__email="anna@acme.example"
    )
    PaymentMethodFactory(account=membership.account)
    return membership.user


@pytest.fixture
def account(admin):
    return admin.memberships.get().account


def remote_support_from(account, anchor: datetime):
    """10 licenses at €42.00 a month, 3 of them assigned, monthly from ``anchor``."""
    from tests.factories import SeatAssignmentFactory, SubscriptionFactory

    subscription = SubscriptionFactory(
        account=account, plan__product__name="Remote Support v5", seats=10, billing_anchor=anchor
    )
    for _ in range(3):
        SeatAssignmentFactory(subscription=subscription)
    return subscription


@pytest.fixture
def remote_support(account):
    """10 licenses at €42.00 a month, 3 of them assigned, period Nov 1 – Dec 1 2026.

    Trap: that period is over on the real clock. A test that changes it runs on
    ``frozen_now`` (or travels to AT itself); one that cannot freeze the clock (its
    other side, such as localstripe, keeps real time) uses ``remote_support_running``.
    """
    return remote_support_from(account, NOV_1)


@pytest.fixture
def remote_support_running(account):
    """Remote Support in a month that began ten days before the real clock."""
    return remote_support_from(account, timezone.now() - timedelta(days=10))


def put_in_cart(subscription, new_seats: int) -> CartLine:
    from checkout.models import Cart, CartLine

    cart, _ = Cart.objects.get_or_create(account=subscription.account)
    line, _ = CartLine.objects.update_or_create(
        cart=cart, subscription=subscription, defaults={"new_seats": new_seats}
    )
    return line
