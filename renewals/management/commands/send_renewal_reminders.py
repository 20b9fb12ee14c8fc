"""Remind the billing admins of each yearly renewal due within 30 days (renewals.reminders).

The same service the beat schedule runs every hour
(renewals.tasks.send_renewal_reminders_task). Safe to run again and twice at
once: each renewal is reminded of once.
"""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from renewals.reminders import REMINDER_BATCH, reminders_due, renewal_reminders_create
from subscriptions import clock
from subscriptions.management.cli import (
    OperationsCommand,
    iso_utc,
    parse_instant,
    parse_whole_number,
)


class Command(OperationsCommand):
    help = (
        "Email the billing admins of each active yearly subscription that renews within 30 "
        "days of --at (default: now): the date, the amount the renewal will charge (its "
        "renewal quote, account credit first) and a link to the Billing Center to change or "
        "cancel. Once per subscription and period, whoever runs it how often. --dry-run only "
        "counts them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--at",
            metavar="ISO",
            help="Remind of the renewals due within 30 days of this instant (ISO 8601, UTC "
            "unless it carries an offset; default: now). A later instant needs --dry-run: "
            "reminding early would tell customers an amount that may still change.",
        )
        parser.add_argument("--batch-size", default=REMINDER_BATCH, metavar="N")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the reminders due; write nothing."
        )

    def handle(self, *args, **options) -> None:
        now = clock.now()
        at = parse_instant(options["at"], option="--at") if options["at"] is not None else now
        batch_size = parse_whole_number(options["batch_size"], option="--batch-size")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if at > now and not options["dry_run"]:
            raise CommandError(
                f"--at {iso_utc(at)} is in the future. Add --dry-run to count what would be due."
            )
        if options["dry_run"]:
            count = reminders_due(at=at).count()
            self.stdout.write(f"{count} renewal reminder(s) would be sent (at {iso_utc(at)}).")
            return
        count = renewal_reminders_create(at=at, batch_size=batch_size)
        self.stdout.write(f"{count} renewal reminder(s) queued (at {iso_utc(at)}).")
