"""Expire the free trials that have ended, so the Billing Center offers "Subscribe now".

The same service the hourly beat task runs (``subscriptions.trials.trials_expire``).
Safe to run again, and twice at once: each trial is expired, and audited, once.
"""

from __future__ import annotations

from django.core.management.base import CommandError, CommandParser

from subscriptions import clock
from subscriptions.management.cli import OperationsCommand, Progress, iso_utc, parse_instant
from subscriptions.trials import ExpiredTrial, trials_due, trials_expire


class Command(OperationsCommand):
    help = (
        "Expire the free trials whose trial end is at or before --at (default: now): they "
        "become 'expired' and the Billing Center shows 'Subscribe now'. Each expiry is "
        "written to the account's audit trail. Safe to rerun and to run twice at once. "
        "--dry-run lists what would expire and writes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--at",
            metavar="ISO",
            help="Expire the trials ended by this instant, ISO 8601 (UTC unless it carries an "
            "offset; default: now). A later instant than now needs --dry-run: a trial is "
            "never cut short.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List the trials that would expire; lock nothing, write nothing.",
        )

    def handle(self, *args, **options) -> None:
        dry_run = options["dry_run"]
        now = clock.now()
        # An empty --at is a mistake, not "now".
        at = parse_instant(options["at"], option="--at") if options["at"] is not None else now
        if at > now and not dry_run:
            raise CommandError(
                f"--at {iso_utc(at)} is in the future: expiring trials before they end would "
                "cut customers off early. Add --dry-run to see what would expire by then."
            )
        # The count is for the progress bar only, which only a terminal shows.
        total = trials_due(at=at).count() if self.stdout.isatty() else None
        progress = Progress(self, label="expire_trials", total=total)
        try:
            expired = trials_expire(at=at, dry_run=dry_run, on_progress=progress)
        finally:
            progress.close()
        verb = "would expire" if dry_run else "expired"
        for trial in expired:
            self.stdout.write(self.describe(trial, verb))
        noun = "trial" if len(expired) == 1 else "trials"
        if dry_run:
            summary = (
                f"expire_trials: {len(expired)} {noun} ended by {iso_utc(at)} would expire; "
                "dry run: nothing written."
            )
        else:
            summary = f"expire_trials: {len(expired)} {noun} ended by {iso_utc(at)} expired."
        self.stdout.write(self.style.SUCCESS(summary))

    @staticmethod
    def describe(trial: ExpiredTrial, verb: str) -> str:
        return (
            f"{verb} subscription {trial.subscription_id}: {trial.account_name}, "
            f"{trial.product_name} (trial ended {iso_utc(trial.trial_end)})"
        )
