"""Accounts, their people, products, plans, subscriptions and seats.

Money history is appended, never edited: the credit balance is the sum of
its ledger entries, and each seat change is a row of its own. Every model is
importable from here, as ``from subscriptions.models import Account``.
"""

from subscriptions.models.accounts import (
    Account,
    Membership,
    User,
    UserManager,
    validate_country_code,
    validate_time_zone,
)
from subscriptions.models.catalog import Plan, Product, TaxRate
from subscriptions.models.history import (
    AppendOnlyModel,
    AppendOnlyQuerySet,
    AuditEntry,
    CreditLedgerEntry,
)
from subscriptions.models.subscriptions import SeatAssignment, SeatChange, Subscription

__all__ = [
    "Account",
    "AppendOnlyModel",
    "AppendOnlyQuerySet",
    "AuditEntry",
    "CreditLedgerEntry",
    "Membership",
    "Plan",
    "Product",
    "SeatAssignment",
    "SeatChange",
    "Subscription",
    "TaxRate",
    "User",
    "UserManager",
    "validate_country_code",
    "validate_time_zone",
]
