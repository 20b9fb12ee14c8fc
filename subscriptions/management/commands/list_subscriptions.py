"""List subscriptions for operations: who has what, how many seats, when it bills next.

One query whatever the number of rows (plan, product and account joined, the
assigned seats counted in the database), read in chunks so a large portal
streams through in bounded memory.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from django.core.management.base import CommandError, CommandParser
from django.db.models import Count, QuerySet

from subscriptions.management.cli import (
    OperationsCommand,
    decimal_text,
    fit,
    iso_utc,
    plain,
    short_utc,
    shown,
    write_json_array,
)
from subscriptions.models import Account, Subscription

CHUNK_SIZE = 2000

# (header, width) of the table; text longer than its column is cut with an ellipsis.
COLUMNS = (
    ("ID", 7),
    ("ACCOUNT", 24),
    ("PRODUCT", 20),
    ("PLAN", 18),
    ("STATUS", 9),
    ("SEATS", 6),
    ("ASSIGNED", 8),
    ("PERIOD START (UTC)", 18),
    ("PERIOD END (UTC)", 18),
    ("NEXT BILLING (UTC)", 18),
)


def account_lookup(value: str | int) -> Account:
    """The account named ``value`` (exactly, then ignoring case) or with that id."""
    value = str(value).strip()
    account = Account.objects.filter(name=value).first()
    if account is None and re.fullmatch(r"[0-9]{1,18}", value):  # ASCII: "٣" is no id
        account = Account.objects.filter(pk=int(value)).first()
    if account is None:
        matches = list(Account.objects.filter(name__iexact=value)[:2])
        if len(matches) > 1:
            raise CommandError(
                f"--account {value!r} matches several accounts ignoring case; "
                "give the exact name or the id."
            )
        account = matches[0] if matches else None
    if account is None:
        raise CommandError(f"No account has the name or id {shown(value)}.")
    return account


def subscriptions_listed(*, account: Account | None, status: str | None) -> QuerySet[Subscription]:
    subscriptions = (
        Subscription.objects.select_related("account", "plan__product")
        .annotate(assigned_seats=Count("assignments"))
        .order_by("account__name", "plan__product__name", "plan__interval", "id")
    )
    if account is not None:
        subscriptions = subscriptions.filter(account=account)
    if status:
        subscriptions = subscriptions.filter(status=status)
    return subscriptions


def next_billing_date(subscription: Subscription):
    """An active subscription bills again at its period end, unless it ends there."""
    if subscription.status != Subscription.Status.ACTIVE or subscription.cancel_at_period_end:
        return None
    return subscription.current_period_end


def as_json(subscription: Subscription) -> dict:
    plan = subscription.plan
    return {
        "id": subscription.pk,
        "account_id": subscription.account_id,
        "account": subscription.account.name,
        "product": plan.product.name,
        "plan_id": plan.pk,
        "interval": plan.interval,
        "unit_price": decimal_text(plan.price),
        "currency": plan.price_currency,
        "status": subscription.status,
        "seats": subscription.seats,
        "assigned_seats": subscription.assigned_seats,
        "current_period_start": iso_utc(subscription.current_period_start),
        "current_period_end": iso_utc(subscription.current_period_end),
        "next_billing_date": iso_utc(next_billing_date(subscription)),
        "trial_end": iso_utc(subscription.trial_end),
        "cancel_at_period_end": subscription.cancel_at_period_end,
    }


def as_table_row(subscription: Subscription) -> str:
    plan = subscription.plan
    cells = (
        subscription.pk,
        subscription.account.name,
        plan.product.name,
        f"{plan.interval} {decimal_text(plan.price)} {plan.price_currency}",
        subscription.status,
        subscription.seats,
        subscription.assigned_seats,
        short_utc(subscription.current_period_start),
        short_utc(subscription.current_period_end),
        short_utc(next_billing_date(subscription)),
    )
    return " ".join(fit(cell, width) for cell, (_, width) in zip(cells, COLUMNS, strict=True))


class Command(OperationsCommand):
    help = (
        "List subscriptions: id, account, product, plan and interval, status, seats, assigned "
        "seats, current period, next billing date (the period end of an active subscription "
        "that is not canceling). A table, or with --json one JSON array on stdout (times ISO "
        "8601 UTC, prices as decimal strings) with the summary on stderr. Writes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--account",
            metavar="NAME_OR_ID",
            help="Only this account's subscriptions (its exact name, or its id).",
        )
        parser.add_argument(
            "--status",
            choices=Subscription.Status.values,
            help="Only subscriptions with this status.",
        )
        parser.add_argument("--json", action="store_true", help="One JSON array on stdout.")

    def handle(self, *args, **options) -> None:
        account, status = options["account"], options["status"]
        if status is not None and status not in Subscription.Status.values:
            raise CommandError(
                f"--status {status!r} is not a status; use one of "
                f"{', '.join(Subscription.Status.values)}."
            )
        chosen = account_lookup(account) if account is not None else None
        statuses: Counter[str] = Counter()

        def rows() -> Iterator[Subscription]:
            listed = subscriptions_listed(account=chosen, status=status)
            for subscription in listed.iterator(chunk_size=CHUNK_SIZE):
                statuses[subscription.status] += 1
                yield subscription

        if options["json"]:
            write_json_array(self.stdout, (as_json(subscription) for subscription in rows()))
            self.stderr.write(self.summary(statuses, chosen), style_func=plain)
            return
        self.stdout.write(" ".join(fit(header, width) for header, width in COLUMNS).rstrip())
        for subscription in rows():
            self.stdout.write(as_table_row(subscription).rstrip())
        self.stdout.write(self.style.SUCCESS(self.summary(statuses, chosen)))

    @staticmethod
    def summary(statuses: Counter[str], account: Account | None) -> str:
        total = sum(statuses.values())
        where = f" for {account.name}" if account is not None else ""
        by_status = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        noun = "subscription" if total == 1 else "subscriptions"
        return f"list_subscriptions: {total} {noun}{where}" + (f" ({by_status})" if total else "")
