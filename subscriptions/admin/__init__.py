"""The Django admin for support staff.

Money history (ledger, seat changes, orders, payments, audit) is read-only:
it changes only through services, and the support actions call the same
services as the pages, each with a reason and an audit entry. Importing this
package registers every admin of the app.
"""

from subscriptions.admin.accounts import AccountAdmin
from subscriptions.admin.base import ReadOnlyAdmin, ReadOnlyInline
from subscriptions.admin.catalog import PlanAdmin, ProductAdmin, TaxRateAdmin
from subscriptions.admin.history import AuditEntryAdmin, CreditLedgerEntryAdmin
from subscriptions.admin.people import GroupAdmin, UserAdmin
from subscriptions.admin.subscriptions import (
    SeatAssignmentAdmin,
    SeatChangeAdmin,
    SubscriptionAdmin,
)

__all__ = [
    "AccountAdmin",
    "AuditEntryAdmin",
    "CreditLedgerEntryAdmin",
    "GroupAdmin",
    "PlanAdmin",
    "ProductAdmin",
    "ReadOnlyAdmin",
    "ReadOnlyInline",
    "SeatAssignmentAdmin",
    "SeatChangeAdmin",
    "SubscriptionAdmin",
    "TaxRateAdmin",
    "UserAdmin",
]
