"""A database of the layout before the payments app migrates forward with nothing lost.

Before, PaymentMethod, Payment and StripeEvent were models of the checkout app.
Here the database is taken back to that layout (checkout 0007, the migrations the
last release ran), filled through the models of that layout, as the release's
code would have, and migrated forward: every row is read back through the
payments app's models with the same values, and the content types keep their
ids, so staff permissions and the admin's history stay attached.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from checkout.models import Order
from payments.models import Payment, PaymentMethod, StripeEvent
from tests.factories import SubscriptionFactory, UserFactory

BEFORE_THE_MOVE = [
    ("checkout", "0007_payment_method_entered_at_checkout"),
    ("subscriptions", "0009_plan_price_money_validator"),
]
AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    ContentType.objects.clear_cache()
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_a_database_of_the_last_release_migrates_forward_with_every_row():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    support = Group.objects.create(name="Payment auditors")
    support.permissions.add(Permission.objects.get(codename="view_payment"))
    subscription = SubscriptionFactory(account__name="Acme GmbH")
    account, admin = subscription.account, UserFactory(email="anna@acme.example")

    old = migrate(BEFORE_THE_MOVE)
    assert "payment" in old.all_models["checkout"]  # the layout of the last release
    assert not ContentType.objects.filter(app_label="payments").exists()
    card = old.get_model("checkout", "PaymentMethod").objects.create(
        account_id=account.pk,
        gateway="sandbox",
        gateway_reference="card_4242",
        brand="Visa",
        last4="4242",
        exp_month=4,
        exp_year=2031,
    )
    money = {
        field: Decimal(value)
        for field, value in {
            "credit": "0.00",
            "charge": "270.00",
            "subtotal": "270.00",
            "tax": "51.30",
            "total": "321.30",
            "credit_applied": "0.00",
            "credit_added": "0.00",
            "amount_due": "321.30",
        }.items()
    }
    order = old.get_model("checkout", "Order").objects.create(
        account_id=account.pk,
        placed_by_id=admin.pk,
        number="ORD-20261102-0001",
        placed_at=AT,
        effective_at=AT,
        idempotency_key="a" * 32,
        tax_kind="standard",
        tax_rate=Decimal("19.00"),
        **money,
        **{f"{field}_currency": "EUR" for field in money},
    )
    payment = old.get_model("checkout", "Payment").objects.create(
        account_id=account.pk,
        order_id=order.pk,
        payment_method_id=card.pk,
        created_by_id=admin.pk,
        checkout_token="a" * 32,
        idempotency_key="checkout:aaaa:1",
        gateway="sandbox",
        reference="pi_sandbox_1",
        amount=Decimal("321.30"),
        amount_currency="EUR",
        status="succeeded",
        quoted_at=AT,
        fingerprint="f" * 64,
        created_at=AT,
    )
    old.get_model("checkout", "StripeEvent").objects.create(
        event_id="evt_1", type="payment_intent.succeeded", created=AT, payload={"id": "evt_1"}
    )
    content_type_ids = dict(
        ContentType.objects.filter(app_label="checkout").values_list("model", "pk")
    )

    migrate(latest)

    moved = Payment.objects.select_related("order", "payment_method").get()
    assert (moved.pk, moved.order, moved.payment_method_id) == (
        payment.pk,
        Order.objects.get(number="ORD-20261102-0001"),
        card.pk,
    )
    assert (str(moved.amount), moved.status, moved.reference, moved.created_at) == (
        "€321.30",
        "succeeded",
        "pi_sandbox_1",
        AT,
    )
    assert PaymentMethod.objects.get().last4 == "4242"
    assert StripeEvent.objects.get().payload == {"id": "evt_1"}
    assert account.payments.get() == moved  # the reverse relations still lead there
    for model in ("payment", "paymentmethod", "stripeevent"):
        assert (
            ContentType.objects.get(app_label="payments", model=model).pk
            == (content_type_ids[model])
        )
    assert not ContentType.objects.filter(
        app_label="checkout", model__in=["payment", "paymentmethod", "stripeevent"]
    ).exists()
    assert support.permissions.get().content_type.app_label == "payments"
