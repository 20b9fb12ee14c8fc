"""`manage.py seed_demo`: the demo a new engineer signs in to, created once."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.utils import timezone
from moneyed import Money

from payments.models import PaymentMethod
from subscriptions.models import Account, Membership, Subscription, User

pytestmark = pytest.mark.django_db

PASSWORD = "demo-billing-2026"


def row_counts() -> dict[str, int]:
    from django.apps import apps

    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label in {"subscriptions", "payments", "checkout", "auth"}
    }


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", force=True, stdout=out)  # tests run with DEBUG off
    return out.getvalue()


def test_seed_demo_creates_the_acme_account_as_described():
    with time_machine.travel("2026-11-26 09:00:00Z", tick=False):
        output = seed()
    acme = Account.objects.get(name="Acme GmbH")
    assert (acme.country, acme.currency, acme.billing_channel) == ("DE", "EUR", "self_service")
    admin = authenticate(username="billing.admin@acme.example", password=PASSWORD)
    assert admin is not None
    assert Membership.objects.get(account=acme, user=admin).role == "billing_admin"

    remote = Subscription.objects.get(account=acme, plan__product__name="Remote Support v5")
    assert (remote.status, remote.plan.interval) == ("active", "month")
    assert remote.plan.price == Money("42.00", "EUR")
    assert remote.seats == 10
    assert remote.assignments.count() == 3
    started = datetime(2026, 11, 16, 9, tzinfo=UTC)
    assert remote.current_period_start == started == remote.billing_anchor
    assert remote.current_period_end == datetime(2026, 12, 16, 9, tzinfo=UTC)

    yearly = Subscription.objects.get(account=acme, plan__interval="year")
    assert yearly.status == "active"
    assert yearly.current_period_end - yearly.current_period_start >= timedelta(days=365)
    expired = Subscription.objects.get(account=acme, status="expired")
    assert expired.trial_end < started

    card = PaymentMethod.objects.get(account=acme)
    assert (card.gateway, card.brand, card.last4, card.is_default) == (
        "sandbox",
        "Visa",
        "4242",
        True,
    )

    assert "billing.admin@acme.example" in output and PASSWORD in output


def test_seed_demo_creates_globex_and_staff():
    seed()
    globex = Account.objects.get(name="Globex Corporation")
    assert (globex.country, globex.currency, globex.billing_channel) == ("US", "USD", "corporate")
    admin = authenticate(username="billing.admin@globex.example", password=PASSWORD)
    assert admin.memberships.get().role == "billing_admin"
    assert globex.subscriptions.get().plan.price == Money("45.00", "USD")

    support = authenticate(username="support@example.com", password=PASSWORD)
    assert support.is_staff and not support.is_superuser
    assert list(support.groups.values_list("name", flat=True)) == ["Support"]
    ops = authenticate(username="ops@example.com", password=PASSWORD)
    assert ops.is_staff and ops.is_superuser


def test_seed_demo_twice_changes_nothing():
    seed()
    before = row_counts()
    snapshot = list(Subscription.objects.order_by("pk").values())
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        output = seed()
    assert row_counts() == before
    assert list(Subscription.objects.order_by("pk").values()) == snapshot
    assert "nothing to do" in output


def test_seed_demo_refuses_a_production_portal_and_writes_nothing(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="refuses to run with DEBUG off"):
        call_command("seed_demo", stdout=StringIO())
    assert not Account.objects.exists()
    assert not User.objects.exists()
