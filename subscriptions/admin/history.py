"""The credit ledger and the audit log, read-only."""

from __future__ import annotations

from django.contrib import admin

from subscriptions.admin.base import ReadOnlyAdmin
from subscriptions.models import AuditEntry, CreditLedgerEntry


@admin.register(CreditLedgerEntry)
class CreditLedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["account", "amount", "reason", "reference", "created_at", "created_by"]
    list_filter = ["reason"]
    search_fields = ["account__name", "reference"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "channel", "actor", "account", "action", "target", "reason"]
    list_filter = ["channel", "action"]
    search_fields = ["account__name", "actor__email", "target", "reason"]
