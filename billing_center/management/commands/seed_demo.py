"""Create the demo accounts, people and subscriptions that `make run` shows.

Idempotent: every row is looked up by its natural key first, so a second run
changes nothing (it does not move periods or reset passwords).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from moneyed import Money

from payments.models import PaymentMethod
from subscriptions import clock
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
from subscriptions.services import tax_rates_ensure_eu_standard

DEMO_PASSWORD = "demo-billing-2026"


class Command(BaseCommand):
    help = "Create the demo data (Acme GmbH, Globex Corporation, staff users). Safe to run twice."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even with DEBUG off. The demo logins share a published password: "
            "never do this on a portal real customers use.",
        )

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates logins with a published password (a superuser among them) "
                "and refuses to run with DEBUG off. Pass --force for a demo deployment."
            )
        with transaction.atomic():
            created = self._seed()
        logins = [
            ("billing.admin@acme.example", "Acme GmbH billing admin (self-service)"),
            ("billing.admin@globex.example", "Globex Corporation billing admin (corporate)"),
            ("support@example.com", "support staff (Django admin at /admin/)"),
            ("ops@example.com", "superuser"),
        ]
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for email, who in logins:
            self.stdout.write(f"  {email:32} {who}")
        summary = f"seed_demo: {created} rows created" if created else "seed_demo: nothing to do"
        self.stdout.write(self.style.SUCCESS(summary))

    def _seed(self) -> int:
        self.created = 0
        now = clock.now().replace(microsecond=0)

        self.created += tax_rates_ensure_eu_standard()
        support_group = self._get_or_create(Group, name="Support")
        support = self._user("support@example.com", "Sam Support", is_staff=True)
        support.groups.add(support_group)
        self._user("ops@example.com", "Olga Ops", is_staff=True, is_superuser=True)

        remote_support = self._get_or_create(
            Product,
            name="Remote Support v5",
            defaults={"description": "Remote support sessions for your help desk."},
        )
        meetings = self._get_or_create(
            Product,
            name="Meeting Rooms",
            defaults={"description": "Video meetings for the whole team."},
        )
        remote_access = self._get_or_create(
            Product,
            name="Remote Access",
            defaults={"description": "Unattended access to your own computers."},
        )
        remote_support_monthly_eur = self._plan(remote_support, "month", "42.00", "EUR")
        meetings_yearly_eur = self._plan(meetings, "year", "144.00", "EUR")
        remote_access_monthly_eur = self._plan(remote_access, "month", "19.00", "EUR")
        remote_support_monthly_usd = self._plan(remote_support, "month", "45.00", "USD")

        # Acme GmbH: a self-service customer in Germany.
        acme = self._get_or_create(
            Account,
            name="Acme GmbH",
            defaults={"country": "DE", "currency": "EUR", "time_zone": "Europe/Berlin"},
        )
        if not acme.address_line1:  # a billing address for the billing profile page
            acme.legal_name = "Acme GmbH"
            acme.address_line1 = "Friedrichstraße 123"
            acme.postal_code = "10117"
            acme.city = "Berlin"
            acme.save(update_fields=["legal_name", "address_line1", "postal_code", "city"])
        acme_admin = self._user("billing.admin@acme.example", "Anna Admin", language="de")
        self._member(acme, acme_admin, Membership.Role.BILLING_ADMIN)
        started = now - timedelta(days=10)
        acme_remote_support = self._subscription(
            acme, remote_support_monthly_eur, seats=10, anchor=started, now=now
        )
        for n in (1, 2, 3):
            agent = self._user(f"agent{n}@acme.example", f"Agent {n}")
            self._member(acme, agent, Membership.Role.MEMBER)
            self._get_or_create(SeatAssignment, subscription=acme_remote_support, user=agent)
        acme_meetings = self._subscription(
            acme, meetings_yearly_eur, seats=5, anchor=now - timedelta(days=100), now=now
        )
        # The Users page shows who holds what: Anna and Agent 1 also hold Meeting Rooms.
        for holder in (acme_admin, User.objects.get(email="agent1@acme.example")):
            self._get_or_create(SeatAssignment, subscription=acme_meetings, user=holder)
        trial_start = now - timedelta(days=44)
        self._get_or_create(
            Subscription,
            account=acme,
            plan=remote_access_monthly_eur,
            defaults={
                "status": Subscription.Status.EXPIRED,
                "seats": 0,
                "billing_anchor": trial_start,
                "current_period_start": trial_start,
                "current_period_end": trial_start + timedelta(days=30),
                "trial_end": trial_start + timedelta(days=30),
            },
        )
        self._get_or_create(
            PaymentMethod,
            gateway=PaymentMethod.Gateway.SANDBOX,
            gateway_reference="sandbox_pm_acme_visa_4242",
            defaults={
                "account": acme,
                "brand": "Visa",
                "last4": "4242",
                "exp_month": 12,
                "exp_year": now.year + 3,
            },
        )

        # Globex Corporation: a corporate account, billed through its own channel.
        globex = self._get_or_create(
            Account,
            name="Globex Corporation",
            defaults={
                "country": "US",
                "currency": "USD",
                "time_zone": "America/New_York",
                "billing_channel": Account.BillingChannel.CORPORATE,
            },
        )
        globex_admin = self._user("billing.admin@globex.example", "Hank Scorpio")
        self._member(globex, globex_admin, Membership.Role.BILLING_ADMIN)
        self._subscription(
            globex, remote_support_monthly_usd, seats=250, anchor=now - timedelta(days=3), now=now
        )
        return self.created

    # -- helpers: look up by natural key, create only what is missing --------------

    def _get_or_create(self, model, defaults=None, **lookup):
        obj, created = model.objects.get_or_create(defaults=defaults or {}, **lookup)
        self.created += int(created)
        return obj

    def _user(self, email: str, full_name: str, **extra) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email, DEMO_PASSWORD, full_name=full_name, **extra)
            self.created += 1
        return user

    def _member(self, account: Account, user: User, role: str) -> Membership:
        return self._get_or_create(Membership, account=account, user=user, defaults={"role": role})

    def _plan(self, product: Product, interval: str, price: str, currency: str) -> Plan:
        return self._get_or_create(
            Plan,
            product=product,
            interval=interval,
            price_currency=currency,
            defaults={"price": Money(Decimal(price), currency), "max_seats": 1000},
        )

    def _subscription(self, account, plan, *, seats, anchor, now) -> Subscription:
        return self._get_or_create(
            Subscription,
            account=account,
            plan=plan,
            defaults={
                "status": Subscription.Status.ACTIVE,
                "seats": seats,
                "billing_anchor": anchor,
                "current_period_start": anchor,
                "current_period_end": period_end(anchor, plan.interval),
            },
        )
