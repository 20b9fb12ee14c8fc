"""What the operations commands share: reading options, writing amounts and times.

Machine output (``--json``, CSV) goes to stdout and nothing else does, so it
can be piped; the one-line summary of such a run goes to stderr. Times are
ISO 8601 in UTC with a ``Z``; amounts are decimal strings in the currency's
minor unit ("63.00"), never floats.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.db import OperationalError
from moneyed import Money

_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: "٣" and "３" are refused
_MAX_DIGITS = 18  # fits a PostgreSQL bigint; longer is a typo (and int() refuses 4,300+ digits)
_SECONDS = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,6})?")


class OperationsCommand(BaseCommand):
    """A command an operator runs: bad input and a missing database end in a message.

    ``CommandError`` already becomes "CommandError: …" and exit code 1; this
    adds the database being unreachable, and a reader (``| head``) that stops
    reading, which would otherwise end in a traceback.
    """

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except OperationalError as error:
            raise CommandError(f"The database cannot be reached: {error}".strip()) from error
        except BrokenPipeError:
            # The reader went away: stop quietly, and keep Python's exit-time flush from
            # raising again on the closed pipe.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(1) from None


def parse_instant(value: str | datetime | date, *, option: str) -> datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime.

    A date is midnight UTC; a date-time without an offset is read as UTC.
    """
    if isinstance(value, datetime):
        instant = value
    elif isinstance(value, date):
        instant = datetime(value.year, value.month, value.day)
    else:
        try:
            instant = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise CommandError(
                f"{option} {shown(value)} is not an ISO 8601 date or time, such as 2026-11-26 "
                "or 2026-11-26T12:00:00Z."
            ) from None
    if instant.tzinfo is None or instant.utcoffset() is None:
        instant = instant.replace(tzinfo=UTC)
    if not 1970 <= instant.year <= 9000:
        raise CommandError(f"{option} {value!r} is outside the years 1970 to 9000.")
    try:
        return instant.astimezone(UTC)
    except OverflowError:
        raise CommandError(f"{option} {value!r} is out of range.") from None


def parse_whole_number(value: str | int, *, option: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if not _WHOLE_NUMBER.fullmatch(text):
        raise CommandError(f"{option} must be a whole number, such as 7; got {shown(value)}.")
    if len(text.lstrip("+-")) > _MAX_DIGITS:
        raise CommandError(f"{option} {shown(value)} is too large.")
    return int(text)


def parse_seconds(value: str | float | int, *, option: str, maximum: int) -> float:
    """A number of seconds from 0 to ``maximum``, such as 120 or 0.5 (ASCII digits)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif _SECONDS.fullmatch(str(value).strip()):
        seconds = float(str(value).strip())
    else:
        seconds = None
    if seconds is None or not 0 <= seconds <= maximum:  # also refuses nan and inf
        raise CommandError(
            f"{option} must be a number of seconds from 0 to {maximum}, such as 120; "
            f"got {shown(value)}."
        )
    return seconds


def shown(value: object, width: int = 40) -> str:
    """``value`` quoted for a message, cut so a pasted novel does not fill the screen."""
    text = repr(str(value)) if not isinstance(value, (int, float)) else repr(value)
    return text if len(text) <= width else text[: width - 4] + "…' (cut)"


def iso_utc(instant: datetime | None) -> str | None:
    """``2026-11-26T12:00:00Z``; None stays None."""
    if instant is None:
        return None
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def short_utc(instant: datetime | None) -> str:
    """``2026-11-26 12:00`` (UTC) for tables; a dash for nothing."""
    if instant is None:
        return "-"
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def decimal_text(value: Money | Decimal | int) -> str:
    """An amount or rate as a plain decimal string, never in exponent form."""
    amount = value.amount if isinstance(value, Money) else Decimal(value)
    return format(amount, "f")


def rate_text(rate: Decimal | int | str) -> str:
    """A tax rate in percent with two decimals, as stored on orders: ``19.00``, ``0.00``."""
    return format(Decimal(rate).quantize(Decimal("0.01")), "f")


def fit(text: object, width: int) -> str:
    """``text`` cut to ``width`` characters (with an ellipsis) and padded to it."""
    text = str(text)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.ljust(width)


def plain(text: str) -> str:
    """A style for stderr that is not the error red Django gives it by default."""
    return text


def write_json_array(stdout: OutputWrapper, objects: Iterable[dict]) -> int:
    """Stream ``objects`` as one JSON array, one object a line; return how many."""
    count = 0
    for obj in objects:
        separator = "[\n" if count == 0 else ",\n"
        stdout.write(separator + json.dumps(obj, ensure_ascii=False), ending="")
        count += 1
    stdout.write("\n]" if count else "[]")
    return count


class Progress:
    """A counter on stderr, only when stdout is a terminal (never in a pipe or a log)."""

    def __init__(self, command: BaseCommand, *, label: str, total: int | None = None) -> None:
        self.stderr = command.stderr
        self.label = label
        self.total = total
        self.enabled = command.stdout.isatty()
        self.shown = False

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        of_total = f"/{self.total}" if self.total is not None else ""
        self.stderr.write(f"\r{self.label}: {done}{of_total}", style_func=plain, ending="")
        self.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stderr.write("", style_func=plain)
