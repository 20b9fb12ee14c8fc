"""The account's credit in the customer's words: each ledger entry as a sentence, newest
first, with the balance it left. Reads only; the balance is the ledger's sum
(``subscriptions.credit``), so the top row's balance is the balance the Billing Center shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import F, Sum, Window
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from moneyed import Money

from checkout.models import Order
from subscriptions.models import Account, CreditLedgerEntry
from subscriptions.money import round_money

ENTRIES_PER_PAGE = 20

# A renewal's order number (renewals.batch.renewal_order_number): known before its order.
RENEWAL_PREFIX = "RN-"

Reason = CreditLedgerEntry.Reason


@dataclass(frozen=True)
class LedgerRow:
    entry: CreditLedgerEntry
    text: str
    balance: Money
    # The order the entry refers to, when it exists: the row links to its receipt.
    order_number: str = ""


def account_ledger_page(
    *, account: Account, page: str | int | None
) -> tuple[Page, list[LedgerRow]]:
    """One page of the account's ledger, newest first, each entry with the balance after it.

    Three queries whatever the page holds: the count, the entries with their running
    sum (a window over the whole ledger, oldest first), and the orders they refer to.
    """
    entries = (
        CreditLedgerEntry.objects.filter(account=account)
        .annotate(
            balance_after=Window(Sum("amount"), order_by=[F("created_at").asc(), F("id").asc()])
        )
        .order_by("-created_at", "-id")
    )
    page_obj = Paginator(entries, ENTRIES_PER_PAGE).get_page(page)
    rows = list(page_obj.object_list)
    numbers = {entry.reference for entry in rows if entry.reference}
    orders = (
        {
            order.number: order
            for order in Order.objects.filter(account=account, number__in=numbers)
            .only("number", "kind", "account_id")
            .prefetch_related("lines")
        }
        if numbers
        else {}
    )
    ledger = []
    for entry in rows:
        order = orders.get(entry.reference)
        ledger.append(
            LedgerRow(
                entry=entry,
                text=entry_text(entry, order),
                balance=round_money(entry.balance_after, account.currency),
                order_number=order.number if order is not None else "",
            )
        )
    return page_obj, ledger


def entry_text(entry: CreditLedgerEntry, order: Order | None) -> str:
    """What the entry means to the customer, in their language."""
    number = entry.reference
    renewal = number.startswith(RENEWAL_PREFIX)
    lines = list(order.lines.all()) if order is not None else []
    if entry.reason == Reason.SEAT_CHANGE_CREDIT:
        reductions = [line for line in lines if line.to_seats < line.from_seats]
        if len(reductions) == 1:
            line = reductions[0]
            removed = line.from_seats - line.to_seats
            return ngettext(
                "Credit for %(count)d license removed from %(product)s (order %(order)s)",
                "Credit for %(count)d licenses removed from %(product)s (order %(order)s)",
                removed,
            ) % {"count": removed, "product": line.product_name, "order": number}
        return _("Credit for the unused time of the licenses changed in order %(order)s") % {
            "order": number
        }
    if entry.reason == Reason.APPLIED_TO_ORDER:
        if renewal and len(lines) == 1:
            return _("Used for the renewal of %(product)s (order %(order)s)") % {
                "product": lines[0].product_name,
                "order": number,
            }
        if renewal:
            return _("Used for the renewal %(order)s") % {"order": number}
        return _("Used to pay order %(order)s") % {"order": number}
    if entry.reason == Reason.GOODWILL:
        return _("Goodwill credit from our support team")
    if renewal and entry.amount.amount > 0:
        # renewals.batch.credit_given_back: the renewal's charge failed.
        return _("Given back: the renewal %(order)s was not paid") % {"order": number}
    if entry.amount.amount > 0:
        return _("Correction by our support team: credit added")
    return _("Correction by our support team: credit removed")
