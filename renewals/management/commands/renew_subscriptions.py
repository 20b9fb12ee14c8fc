"""Renew every subscription whose billing period has ended (renewals.run).

The same service the beat schedule runs every 15 minutes
(renewals.tasks.renew_subscriptions_task). Safe to run again and twice
at once: each period is renewed, and charged, at most once.
"""

from __future__ import annotations

from datetime import datetime

from celery import group
from celery.exceptions import CeleryError
from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from kombu.exceptions import KombuError

from renewals.report import (
    ERROR,
    PAST_DUE,
    SUSPENDED,
    UNAVAILABLE,
    RenewalOutcome,
    RenewalSummary,
)
from renewals.run import subscriptions_due, subscriptions_renew
from renewals.tasks import renew_subscriptions_shard_task
from subscriptions import clock
from subscriptions.management.cli import OperationsCommand, parse_instant, parse_whole_number

MAX_FAN_OUT = 64


class Command(OperationsCommand):
    help = (
        "Renew every active subscription whose billing period has ended (and every past-due "
        "one whose retry is due): start its next period, counted from the billing anchor, and "
        "charge seats × price plus VAT through the payment gateway, account credit first, "
        "recorded as a renewal order whose confirmation email is sent. A declined charge makes "
        "the subscription past due, retried 1, 3 and 7 days later, then suspended; a "
        "subscription set to cancel at its period end is canceled instead. Ends with a "
        "one-line summary. Exits non-zero if a renewal could not be done (the gateway did not "
        "answer, or the data does not allow it); declines are not failures of the command."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--at",
            metavar="ISO",
            help="Renew what is due at this instant (ISO 8601; without an offset it is UTC). "
            "Default: now. A future instant only with --dry-run: renewing early would charge "
            "customers before their period ends.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say what would be renewed, charged and canceled; write nothing, charge nothing.",
        )
        parser.add_argument(
            "--fan-out",
            default="1",
            metavar="N",
            help="Split the run into N shards by account and send each to a Celery worker "
            "(CELERY_BROKER_URL); waits for all of them and prints their summary together "
            "(default: %(default)s, run here).",
        )
        parser.add_argument(
            "--batch-size",
            default="1000",
            metavar="N",
            help="Subscriptions locked, charged and written together (default: %(default)s).",
        )

    def handle(
        self, *args, at: str | None, dry_run: bool, batch_size: str, fan_out: str, **options
    ) -> None:
        batch_size = parse_whole_number(batch_size, option="--batch-size")
        fan_out = parse_whole_number(fan_out, option="--fan-out")
        if not 1 <= batch_size <= 100_000:
            raise CommandError("--batch-size must be between 1 and 100000.")
        if not 1 <= fan_out <= MAX_FAN_OUT:
            raise CommandError(f"--fan-out must be between 1 and {MAX_FAN_OUT}.")
        if fan_out > 1 and dry_run:
            raise CommandError("--dry-run only reads: it runs here, without --fan-out.")
        now = clock.now()
        instant = parse_instant(at, option="--at") if at is not None else now
        if instant > now and not dry_run:
            raise CommandError(
                f"--at {instant.isoformat()} is in the future: that would charge customers "
                "before their period ends. Add --dry-run to see what would renew by then."
            )
        if fan_out > 1:
            self._fan_out(instant, fan_out, batch_size)
            return
        verbosity = options["verbosity"]
        interactive = self.stdout.isatty()
        total = subscriptions_due(at=instant).count() if interactive else 0
        seen: set[int] = set()

        def progress(outcomes: list[RenewalOutcome]) -> None:
            if interactive:
                self.stdout.write("\r\033[K", ending="")  # clear the progress line
            for outcome in outcomes:
                if outcome.action in (ERROR, UNAVAILABLE):
                    self.stderr.write(outcome.describe(dry_run=dry_run))
                elif dry_run or verbosity >= 2 or outcome.action in (PAST_DUE, SUSPENDED):
                    self.stdout.write(outcome.describe(dry_run=dry_run))
            if interactive:
                # A subscription several periods behind comes round more than once.
                seen.update(outcome.subscription_id for outcome in outcomes)
                done = min(len(seen), total)
                self.stdout.write(f"Renewing: {done}/{total} subscriptions", ending="")
                self.stdout.flush()

        summary = subscriptions_renew(
            at=instant, batch_size=batch_size, dry_run=dry_run, progress=progress
        )
        if interactive:
            self.stdout.write("\r\033[K", ending="")
        self.stdout.write(summary.line())
        if summary.failed:
            raise CommandError(
                f"{summary.unavailable + summary.errors} renewal(s) could not be done; "
                "run again later (a subscription the gateway did not answer for is asked again)."
            )

    def _fan_out(self, instant: datetime, shards: int, batch_size: int) -> None:
        """Send one shard task per worker, wait for every shard, print their summary."""
        if not settings.CELERY_TASK_ALWAYS_EAGER and not settings.CELERY_RESULT_BACKEND:
            raise CommandError("--fan-out waits for the workers' results: it needs a Redis broker.")
        tasks = group(
            renew_subscriptions_shard_task.s(instant.isoformat(), index, shards, batch_size)
            for index in range(shards)
        )
        try:
            results = tasks.apply_async().get(disable_sync_subtasks=False)
        except (CeleryError, KombuError, OSError) as error:
            raise CommandError(
                f"The shards could not be run ({error}); what was renewed stays renewed, "
                "run again to finish."
            ) from error
        summary = RenewalSummary(at=instant)
        for result in results:
            summary.merge(result)
        self.stdout.write(f"{shards} shards: {summary.line()}")
        if summary.failed:
            raise CommandError(
                f"{summary.unavailable + summary.errors} renewal(s) could not be done; "
                "run again later (a subscription the gateway did not answer for is asked again)."
            )
