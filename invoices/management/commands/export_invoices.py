"""`manage.py export_invoices --since DATE [--output FILE]`: one zip of the invoices' PDFs
and XML for the accountant (by default ``invoices-since-DATE.zip``)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError, CommandParser

from invoices.export import invoices_export
from subscriptions.management.cli import OperationsCommand, parse_instant


class Command(OperationsCommand):
    help = "Write the PDF and the XML of every invoice issued since a date into one zip."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since", required=True, help="ISO date or date-time (UTC), e.g. 2027-01-01"
        )
        parser.add_argument("--output", help="the zip to write (default: invoices-since-DATE.zip)")

    def handle(self, *args, **options) -> None:
        since = parse_instant(options["since"], option="--since")
        output = Path(options["output"] or f"invoices-since-{since:%Y-%m-%d}.zip")
        try:
            with output.open("wb") as file:
                count = invoices_export(since=since, output=file)
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error.strerror or error}") from error
        self.stdout.write(f"{count} invoice(s) written to {output}.")
