"""The finance export: one row per order line, with every amount as it was placed.

Amounts are read from the order and its lines (what the customer was shown
and charged), never recomputed. Rows are streamed from a database cursor to
stdout, so memory stays flat however many orders the range holds.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime

from django.core.management.base import CommandError, CommandParser

from checkout.models import OrderLine
from subscriptions.management.cli import (
    OperationsCommand,
    decimal_text,
    iso_utc,
    parse_instant,
    plain,
    rate_text,
    write_json_array,
)

CHUNK_SIZE = 2000

# The export's columns, in order; the order_* amounts belong to the whole order and
# repeat on each of its lines (account credit is settled once per order).
FIELDS = (
    "order_number",
    "order_kind",
    "placed_at",
    "effective_at",
    "account_id",
    "account",
    "country",
    "vat_number",
    "tax_kind",
    "tax_rate",
    "product",
    "interval",
    "from_seats",
    "to_seats",
    "unit_price",
    "currency",
    "period_start",
    "period_end",
    "new_period_start",
    "new_period_end",
    "credit",
    "charge",
    "subtotal",
    "tax",
    "total",
    "order_total",
    "order_credit_applied",
    "order_credit_added",
    "order_amount_due",
)

# Columns written as numbers; every other column is text and is neutralised (below).
NUMBER_FIELDS = frozenset(
    {
        "account_id",
        "tax_rate",
        "from_seats",
        "to_seats",
        "unit_price",
        "credit",
        "charge",
        "subtotal",
        "tax",
        "total",
        "order_total",
        "order_credit_applied",
        "order_credit_added",
        "order_amount_due",
    }
)

# OWASP "CSV Injection": a spreadsheet runs a cell that starts with one of these as a
# formula (an account named =HYPERLINK(...) sends the reader's data away). A single
# quote before it makes the spreadsheet show the text as it is.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: str) -> str:
    """``value`` as a spreadsheet shows it as text, never as a formula."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def csv_row(row: dict) -> dict:
    """A row for the CSV: text cells neutralised, numbers (-864.00 included) left as
    numbers. Only the CSV: JSON is read by programs, which run no formulas."""
    return {
        field: spreadsheet_text(value)
        if field not in NUMBER_FIELDS and isinstance(value, str)
        else value
        for field, value in row.items()
    }


def order_lines_placed(*, since: datetime, until: datetime | None):
    """Lines of the orders placed in ``[since, until)``, oldest order first."""
    lines = OrderLine.objects.select_related("order__account").filter(order__placed_at__gte=since)
    if until is not None:
        lines = lines.filter(order__placed_at__lt=until)
    return lines.order_by("order__placed_at", "order_id", "id")


def export_row(line: OrderLine) -> dict:
    order = line.order
    return {
        "order_number": order.number,
        "order_kind": order.kind,
        "placed_at": iso_utc(order.placed_at),
        "effective_at": iso_utc(order.effective_at),
        "account_id": order.account_id,
        "account": order.account.name,
        "country": order.account.country,
        "vat_number": order.vat_number,
        "tax_kind": order.tax_kind,
        "tax_rate": rate_text(order.tax_rate),
        "product": line.product_name,
        "interval": line.interval,
        "from_seats": line.from_seats,
        "to_seats": line.to_seats,
        "unit_price": decimal_text(line.unit_price),
        "currency": line.total.currency.code,
        "period_start": iso_utc(line.period_start),
        "period_end": iso_utc(line.period_end),
        "new_period_start": iso_utc(line.new_period_start),
        "new_period_end": iso_utc(line.new_period_end),
        "credit": decimal_text(line.credit),
        "charge": decimal_text(line.charge),
        "subtotal": decimal_text(line.subtotal),
        "tax": decimal_text(line.tax),
        "total": decimal_text(line.total),
        "order_total": decimal_text(order.total),
        "order_credit_applied": decimal_text(order.credit_applied),
        "order_credit_added": decimal_text(order.credit_added),
        "order_amount_due": decimal_text(order.amount_due),
    }


class _StdoutFile:
    """The csv module writes to a file; this hands its text to the command's stdout."""

    def __init__(self, stdout) -> None:
        self.stdout = stdout

    def write(self, text: str) -> None:
        self.stdout.write(text, ending="")


class Command(OperationsCommand):
    help = (
        "Export the orders placed from --since up to --until (exclusive) for finance: one row "
        "per order line with every amount (line credit, charge, subtotal, tax, total; the "
        "order's total, credit applied, credit added and amount due repeated on each of its "
        "lines), streamed to stdout. Times are ISO 8601 UTC, amounts decimal strings in the "
        "order's currency. --format csv (default: a header row, then one row per line) or "
        "json (one JSON array, one object per line, streamed). In the CSV a text cell that "
        "starts with =, +, -, @, tab or carriage return gets a leading ' so a spreadsheet "
        "shows it as text, not as a formula. The summary goes to stderr. "
        "Country is the account's country today; VAT number, tax kind and rate are the "
        "order's own. Writes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            required=True,
            metavar="DATE",
            help="First instant, inclusive: an ISO 8601 date (midnight UTC) or date-time "
            "(UTC unless it carries an offset).",
        )
        parser.add_argument(
            "--until",
            metavar="DATE",
            help="End, exclusive, in the same form as --since (default: no end).",
        )
        parser.add_argument(
            "--format",
            choices=("csv", "json"),
            default="csv",
            help="csv (default) or json: one JSON array, streamed.",
        )

    def handle(self, *args, **options) -> None:
        since = parse_instant(options["since"], option="--since")
        until = (
            parse_instant(options["until"], option="--until")
            if options["until"] is not None
            else None
        )
        output_format = options["format"]
        if output_format not in ("csv", "json"):
            raise CommandError(f"--format {output_format!r} is not known; use csv or json.")
        if until is not None and until <= since:
            raise CommandError(
                f"--until {iso_utc(until)} must be after --since {iso_utc(since)} "
                "(--until is exclusive)."
            )
        line_count = order_count = 0

        def rows() -> Iterator[dict]:
            nonlocal line_count, order_count
            previous_order = None
            placed = order_lines_placed(since=since, until=until)
            for line in placed.iterator(chunk_size=CHUNK_SIZE):
                # Lines come grouped by order: a new order id starts the next order.
                if line.order_id != previous_order:
                    previous_order = line.order_id
                    order_count += 1
                line_count += 1
                yield export_row(line)

        if output_format == "json":
            write_json_array(self.stdout, rows())
        else:
            writer = csv.DictWriter(_StdoutFile(self.stdout), fieldnames=FIELDS)
            writer.writeheader()
            for row in rows():
                writer.writerow(csv_row(row))
        period = f"from {iso_utc(since)}" + (f" until {iso_utc(until)}" if until else "")
        self.stderr.write(
            f"export_orders: {line_count} line(s) of {order_count} order(s) placed {period}, "
            f"as {output_format}.",
            style_func=plain,
        )
