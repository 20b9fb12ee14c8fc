"""What a renewal run reports: each period's outcome, and the counts of the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from moneyed import Money

RENEWED = "renewed"
CANCELED = "canceled"
PAST_DUE = "past_due"
SUSPENDED = "suspended"
UNAVAILABLE = "unavailable"  # the gateway did not answer: left for a later run
ERROR = "error"  # the data does not allow a renewal (e.g. a tax rate is missing)


@dataclass(frozen=True)
class RenewalOutcome:
    """What happened (or, in a dry run, would happen) to one period of one subscription."""

    subscription_id: int
    account: str
    product: str
    action: str
    period_start: datetime | None = None
    period_end: datetime | None = None
    amount_due: Money | None = None
    credit_applied: Money | None = None
    order_number: str = ""
    reason: str = ""

    def describe(self, *, dry_run: bool = False) -> str:
        who = f"subscription {self.subscription_id} ({self.account}, {self.product})"
        period = (
            f"{self.period_start:%Y-%m-%d %H:%M} – {self.period_end:%Y-%m-%d %H:%M} UTC"
            if self.period_start and self.period_end
            else ""
        )
        due = amount_text(self.amount_due) if self.amount_due is not None else ""
        credit = (
            f" after {amount_text(self.credit_applied)} credit"
            if self.credit_applied and self.credit_applied.amount
            else ""
        )
        if self.action == RENEWED:
            verb = "would renew" if dry_run else f"renewed ({self.order_number})"
            return f"{verb} {who} for {period}: {due} due{credit}"
        if self.action == CANCELED:
            return f"{'would cancel' if dry_run else 'canceled'} {who} at its period end"
        if self.action == PAST_DUE and self.reason == "authentication_required":
            return (
                f"the bank asks the customer to authenticate: {who} is past due, {due} for {period}"
            )
        if self.action == PAST_DUE:
            return f"charge declined ({self.reason}): {who} is past due, {due} for {period}"
        if self.action == SUSPENDED:
            return f"charge declined again ({self.reason}): {who} is suspended"
        if self.action == UNAVAILABLE:
            return f"not charged ({self.reason}): {who} is left for a later run"
        return f"not renewed: {who}: {self.reason}"


def amount_text(money: Money) -> str:
    return f"{money.currency.code} {money.amount}"


@dataclass
class RenewalSummary:
    """The counts of one run; in a dry run, what it would do if every charge went through."""

    at: datetime
    dry_run: bool = False
    renewed: int = 0
    canceled: int = 0
    past_due: int = 0
    suspended: int = 0
    unavailable: int = 0
    errors: int = 0
    charged: dict[str, Decimal] = field(default_factory=dict)

    def add(self, outcome: RenewalOutcome) -> None:
        counter = {
            RENEWED: "renewed",
            CANCELED: "canceled",
            PAST_DUE: "past_due",
            SUSPENDED: "suspended",
            UNAVAILABLE: "unavailable",
            ERROR: "errors",
        }[outcome.action]
        setattr(self, counter, getattr(self, counter) + 1)
        if outcome.action == RENEWED and outcome.amount_due and outcome.amount_due.amount:
            code = outcome.amount_due.currency.code
            self.charged[code] = self.charged.get(code, Decimal(0)) + outcome.amount_due.amount

    @property
    def failed(self) -> bool:
        """Something could not be done and needs a later run or a person (not a decline)."""
        return bool(self.unavailable or self.errors)

    def charged_text(self) -> str:
        return ", ".join(f"{code} {amount}" for code, amount in sorted(self.charged.items()))

    def line(self) -> str:
        charged = self.charged_text() or "nothing"
        if self.dry_run:
            return (
                f"Dry run, nothing written: would renew {self.renewed} period(s), charging "
                f"{charged}; would cancel {self.canceled}; {self.errors} error(s)."
            )
        return (
            f"Renewed {self.renewed} period(s), charged {charged}; {self.past_due} failed → "
            f"past due, {self.suspended} suspended, {self.canceled} canceled; "
            f"{self.unavailable} left for a later run, {self.errors} error(s)."
        )

    def merge(self, other: dict) -> None:
        """Add the counts of another run (its ``as_dict``): a fanned-out run's shards."""
        for name in ("renewed", "past_due", "suspended", "canceled", "unavailable", "errors"):
            setattr(self, name, getattr(self, name) + int(other[name]))
        for code, amount in other["charged"].items():
            self.charged[code] = self.charged.get(code, Decimal(0)) + Decimal(amount)

    def as_dict(self) -> dict:
        return {
            "at": self.at.isoformat(),
            "dry_run": self.dry_run,
            "renewed": self.renewed,
            "charged": {code: str(amount) for code, amount in sorted(self.charged.items())},
            "past_due": self.past_due,
            "suspended": self.suspended,
            "canceled": self.canceled,
            "unavailable": self.unavailable,
            "errors": self.errors,
        }
