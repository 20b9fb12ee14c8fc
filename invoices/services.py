"""Issuing invoices (in the orders' transaction) and sending them again."""

from __future__ import annotations

import zoneinfo
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Q

from checkout.orders import OrderDraft
from core.batch_writes import batch_insert
from invoices.buyer import invoice_buyer
from invoices.models import Invoice, InvoiceCounter, InvoiceKind
from invoices.seller import seller
from subscriptions.activity import Channel, activity_record
from subscriptions.models import User

NUMBER_PREFIX = {InvoiceKind.INVOICE: "", InvoiceKind.CREDIT_NOTE: "GS-"}


def invoice_number(kind: str, year: int, sequence: int) -> str:
    """``2027-000123``; credit notes ``GS-2027-000004`` (Gutschrift), a series of their own."""
    return f"{NUMBER_PREFIX[kind]}{year}-{sequence:06d}"


def invoice_kind(draft: OrderDraft) -> str | None:
    """An order that moves money gets an invoice, a negative one a credit note; an order
    whose total is zero (nothing charged, nothing credited) gets none."""
    total = draft.order.total.amount
    if total > 0:
        return InvoiceKind.INVOICE
    if total < 0:
        return InvoiceKind.CREDIT_NOTE
    return None


def invoices_issue(*, drafts: list[OrderDraft]) -> list[Invoice]:
    """Issue the invoices of freshly written orders, in their transaction.

    A fixed number of queries whatever the batch's size: the counters of the
    series concerned are created if missing and locked (in a fixed order, after
    the accounts and subscriptions the order writer holds), the invoices are
    inserted in one statement and the counters moved on in one. Two
    transactions issuing in the same series wait for each other; a rolled-back
    order rolls its number back with it, so there are no gaps.
    """
    billable = [(draft, kind) for draft in drafts if (kind := invoice_kind(draft))]
    if not billable:
        return []
    corrected = _invoices_corrected(
        [draft for draft, kind in billable if kind == InvoiceKind.CREDIT_NOTE]
    )
    issuer = seller()
    zone = zoneinfo.ZoneInfo(issuer.time_zone)
    series = sorted(
        {(kind, draft.order.placed_at.astimezone(zone).year) for draft, kind in billable}
    )
    InvoiceCounter.objects.bulk_create(
        [InvoiceCounter(kind=kind, year=year) for kind, year in series], ignore_conflicts=True
    )
    in_series = Q()
    for kind, year in series:
        in_series |= Q(kind=kind, year=year)
    counters = {
        (counter.kind, counter.year): counter
        for counter in InvoiceCounter.objects.select_for_update()
        .filter(in_series)
        .order_by("kind", "year")
    }
    invoices = []
    for draft, kind in billable:
        order = draft.order
        year = order.placed_at.astimezone(zone).year  # the year of the invoice date
        counter = counters[(kind, year)]
        counter.last_number += 1
        buyer = invoice_buyer(order.account)
        invoices.append(
            Invoice(
                kind=kind,
                number=invoice_number(kind, year, counter.last_number),
                year=year,
                sequence=counter.last_number,
                issued_at=order.placed_at,
                issue_date=order.placed_at.astimezone(zone).date(),
                order_id=order.pk,
                account_id=order.account_id,
                corrects_id=corrected.get(order.pk),
                seller_name=issuer.name,
                seller_address=issuer.address,
                seller_country=issuer.country,
                seller_vat_id=issuer.vat_id,
                seller_tax_number=issuer.tax_number,
                buyer_name=buyer.name,
                buyer_address=buyer.address,
                buyer_country=buyer.country,
                buyer_vat_number=buyer.vat_number,
                language=order.language,
                **service_period(draft),
                net=order.subtotal,
                tax=order.tax,
                gross=order.total,
            )
        )
    batch_insert(invoices)  # a renewal batch's thousand in one set-based statement
    InvoiceCounter.objects.bulk_update(list(counters.values()), ["last_number"])
    return invoices


def service_period(draft: OrderDraft) -> dict[str, date]:
    """The first and last day of the order's lines' new periods, in the account's time
    zone; a period ends at the instant the next one starts, so its last day is the day
    before that instant's."""
    zone = zoneinfo.ZoneInfo(draft.order.account.time_zone)
    start = min(line.new_period_start for line in draft.lines).astimezone(zone).date()
    end = max(line.new_period_end for line in draft.lines) - timedelta(microseconds=1)
    return {"period_start": start, "period_end": max(start, end.astimezone(zone).date())}


def _invoices_corrected(drafts: list[OrderDraft]) -> dict[int, int]:
    """For each credit note's order, the last invoice issued for one of its subscriptions."""
    if not drafts:
        return {}
    subscriptions = {line.subscription_id for draft in drafts for line in draft.lines}
    last_by_subscription: dict[int, int] = {}
    for invoice_id, subscription_id in (
        Invoice.objects.filter(
            kind=InvoiceKind.INVOICE, order__lines__subscription_id__in=subscriptions
        )
        .order_by("issued_at", "id")
        .values_list("id", "order__lines__subscription_id")
    ):
        last_by_subscription[subscription_id] = invoice_id
    corrected: dict[int, int] = {}
    for draft in drafts:
        found = [
            last_by_subscription[line.subscription_id]
            for line in draft.lines
            if line.subscription_id in last_by_subscription
        ]
        if found:
            corrected[draft.order.pk] = max(found)
    return corrected


def invoice_resend(*, invoice: Invoice, actor: User | None, reason: str) -> None:
    """Email the invoice again to the account's billing admins (support, in the admin),
    after commit; recorded in the account's activity."""
    from invoices.tasks import send_invoice_email

    with transaction.atomic():
        activity_record(
            account=invoice.account,
            actor=actor,
            channel=Channel.ADMIN,
            action="invoice_resent",
            target=f"invoice {invoice.number}",
            reason=reason,
        )
        transaction.on_commit(lambda: send_invoice_email.delay(invoice.pk), robust=True)
