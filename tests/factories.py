"""factory_boy factories for the domain models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import factory
from moneyed import Money

from payments.models import PaymentMethod
from subscriptions.models import (
    Account,
    Membership,
    Plan,
    Product,
    SeatAssignment,
    Subscription,
    User,
)
from subscriptions.proration import period_end

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Customer {n} GmbH")
    country = "DE"
    currency = "EUR"
    time_zone = "Europe/Berlin"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    account = factory.SubFactory(AccountFactory)
    role = Membership.Role.BILLING_ADMIN


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    product = factory.SubFactory(ProductFactory)
    interval = Plan.Interval.MONTH
    price = Money(Decimal("42.00"), "EUR")
    min_seats = 1
    max_seats = 1000


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    account = factory.SubFactory(AccountFactory)
    plan = factory.SubFactory(
        PlanFactory,
        price=factory.LazyAttribute(
            lambda plan: Money(Decimal("42.00"), plan.factory_parent.account.currency)
        ),
    )
    status = Subscription.Status.ACTIVE
    seats = 10
    billing_anchor = datetime(2026, 11, 1, tzinfo=UTC)
    current_period_start = factory.SelfAttribute("billing_anchor")
    current_period_end = factory.LazyAttribute(
        lambda sub: period_end(sub.billing_anchor, sub.plan.interval)
    )


class SeatAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SeatAssignment

    subscription = factory.SubFactory(SubscriptionFactory)
    user = factory.SubFactory(UserFactory)


class PaymentMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaymentMethod

    account = factory.SubFactory(AccountFactory)
    gateway = PaymentMethod.Gateway.SANDBOX
    gateway_reference = factory.Sequence(lambda n: f"sandbox_pm_{n}")
    brand = "Visa"
    last4 = "4242"
    exp_month = 12
    exp_year = 2030
