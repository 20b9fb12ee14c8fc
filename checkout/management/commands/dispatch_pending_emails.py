"""Send the order confirmations that stayed pending (the broker was down, a worker died).

The same sweep the worker runs every minute (checkout.tasks.dispatch_pending_emails),
for when there is no worker or no broker. Safe to run while the worker runs, and
twice at once: an order is sent by whoever holds its row lock, and only once.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from checkout.tasks import PendingEmailsDispatch, pending_emails_dispatch, pending_emails_due
from subscriptions.management.cli import parse_seconds, parse_whole_number

MAX_OLDER_THAN = 366 * 24 * 3600  # a year: older than that, every pending email is due anyway
MAX_LIMIT = 100_000


class Command(BaseCommand):
    help = (
        "Send the order confirmation emails still pending some time after their order was "
        "placed. Exits non-zero if any could not be sent (they stay pending)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List the orders whose email would be sent; send nothing, write nothing.",
        )
        parser.add_argument(
            "--older-than",
            default=settings.ORDER_EMAIL_SWEEP_AFTER,
            metavar="SECONDS",
            help="Only orders placed at least this long ago, so the normal path has had its "
            "chance (default: %(default)s).",
        )
        parser.add_argument(
            "--limit",
            default=settings.ORDER_EMAIL_SWEEP_BATCH,
            help=f"At most this many orders in one run, 1 to {MAX_LIMIT} (default: %(default)s).",
        )

    def handle(self, *args, dry_run: bool, older_than, limit, **options) -> None:
        # Parsed here rather than by argparse's float/int, which take "nan", "1e400" and
        # Unicode digits ("٣") and end in a traceback instead of a message.
        older_than = parse_seconds(older_than, option="--older-than", maximum=MAX_OLDER_THAN)
        limit = parse_whole_number(limit, option="--limit")
        if not 1 <= limit <= MAX_LIMIT:
            raise CommandError(f"--limit must be from 1 to {MAX_LIMIT}; got {limit}.")
        grace = timedelta(seconds=older_than)
        if dry_run:
            due = pending_emails_due(older_than=grace, limit=limit)
            for order in due:
                recipient = order.placed_by.email if order.placed_by else "the billing admins"
                self.stdout.write(
                    f"would send {order.number} (placed {order.placed_at:%Y-%m-%d %H:%M} UTC) "
                    f"to {recipient}"
                )
            summary = PendingEmailsDispatch(due=[order.number for order in due])
            self.stdout.write(summary.summary(dry_run=True))
            return
        result = pending_emails_dispatch(older_than=grace, limit=limit)
        for number in result.sent:
            self.stdout.write(f"sent {number}")
        for number in result.skipped:
            self.stdout.write(f"skipped {number} (sent or being sent elsewhere)")
        for number, error in result.failed.items():
            self.stderr.write(f"failed {number}: {error}")
        self.stdout.write(result.summary())
        if result.failed:
            raise CommandError(f"{len(result.failed)} confirmation email(s) could not be sent.")
