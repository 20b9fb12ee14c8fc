"""Billing periods: calendar months counted from the billing anchor."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

from subscriptions.proration.errors import NaiveDatetime, OutsidePeriod, UnknownInterval

MONTH = "month"
YEAR = "year"
INTERVALS = (MONTH, YEAR)
_MONTHS_PER_INTERVAL = {MONTH: 1, YEAR: 12}
_MICROSECOND = timedelta(microseconds=1)


def _require_aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise NaiveDatetime(f"{name} must be a datetime, not {type(value).__name__}.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetime(f"{name} must be time-zone aware; got the naive datetime {value}.")
    return value.astimezone(UTC)


def _require_interval(interval: str) -> int:
    try:
        return _MONTHS_PER_INTERVAL[interval]
    except (KeyError, TypeError):
        raise UnknownInterval(
            f"Unknown billing interval {interval!r}; expected one of {', '.join(INTERVALS)}."
        ) from None


def add_months(instant: datetime, months: int) -> datetime:
    """Calendar month arithmetic, the day clamped to the month's last day.

    The time of day is kept: 2026-01-31 10:00 + 1 month = 2026-02-28 10:00.
    """
    month_index = instant.year * 12 + (instant.month - 1) + months
    year, month = divmod(month_index, 12)
    month += 1
    day = min(instant.day, calendar.monthrange(year, month)[1])
    return instant.replace(year=year, month=month, day=day)


def period_end(anchor: datetime, interval: str, n: int = 1) -> datetime:
    """End of period ``n`` counted from the billing anchor: ``anchor + n × interval``.

    Always counted from the anchor, never from the previous end, so a
    31st-of-the-month anchor comes back to the 31st after February.
    """
    anchor = _require_aware("anchor", anchor)
    months = _require_interval(interval)
    return add_months(anchor, months * n)


def period_containing(anchor: datetime, interval: str, at: datetime) -> tuple[datetime, datetime]:
    """The period ``[start, end)`` counted from ``anchor`` that contains ``at``."""
    anchor = _require_aware("anchor", anchor)
    at = _require_aware("at", at)
    months = _require_interval(interval)
    if at < anchor:
        raise OutsidePeriod(f"{at.isoformat()} is before the billing anchor {anchor.isoformat()}.")
    elapsed_months = (at.year - anchor.year) * 12 + (at.month - anchor.month)
    n = max(elapsed_months // months, 0)
    # The month count is a close guess; step until end(n) <= at < end(n + 1).
    while n > 0 and add_months(anchor, months * n) > at:
        n -= 1
    while add_months(anchor, months * (n + 1)) <= at:
        n += 1
    return add_months(anchor, months * n), add_months(anchor, months * (n + 1))
