"""The one order writer: Place order, the staff seat change and renewals write through it.

An order is written with everything it changes, in the caller's transaction,
under the locks the caller holds (the account, then the order's
subscriptions): its lines, the seat-change history, the subscriptions' new
values, the credit ledger entries, and the payment that paid for it. A batch
of orders (a renewal run's) is written with one statement per table.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db import DatabaseError, transaction

from checkout.models import Cart, CartLine, Order, OrderLine
from checkout.signals import orders_written
from core.batch_writes import batch_insert, batch_update
from payments.cards import card_on_file_make
from payments.models import Payment
from subscriptions import clock
from subscriptions.activity import Channel, activity_entry
from subscriptions.models import (
    Account,
    AuditEntry,
    CreditLedgerEntry,
    SeatChange,
    Subscription,
    User,
)

# What placing a seat change changes on each of its subscriptions (and its version).
SEAT_CHANGE_FIELDS = [
    "status",
    "seats",
    "billing_anchor",
    "current_period_start",
    "current_period_end",
    "cancel_at_period_end",
]
# What recording a payment on its order changes.
PAYMENT_FIELDS = ["order", "status", "reference", "claimed_until", "updated_at"]


@dataclass
class OrderDraft:
    """One order, not yet written, with what it changes.

    ``subscriptions`` hold their new values already (the writer bumps their
    versions); ``payment``, if any, is the attempt that paid, its status set.
    """

    order: Order
    lines: list[OrderLine]
    subscriptions: list[Subscription]
    seat_changes: list[SeatChange] = field(default_factory=list)
    credit: list[CreditLedgerEntry] = field(default_factory=list)
    payment: Payment | None = None
    activity: list[AuditEntry] = field(default_factory=list)


def orders_write(drafts: list[OrderDraft], *, subscription_fields: list[str]) -> list[Order]:
    """Write the orders of ``drafts`` and all they change (and, through ``orders_written``,
    their invoices); confirmation emails after commit.

    Runs inside the caller's transaction, which holds the locks of the
    accounts and subscriptions concerned (taken in that order).
    """
    if not drafts:
        return []
    now = clock.now()
    orders = batch_insert([draft.order for draft in drafts])
    lines, history, subscriptions, credit, payments, activity = [], [], [], [], [], []
    for draft in drafts:
        for line in draft.lines:
            line.order = draft.order
        lines += draft.lines
        history += draft.seat_changes
        subscriptions += draft.subscriptions
        credit += draft.credit
        activity += draft.activity
        if (payment := draft.payment) is not None:
            payment.order = draft.order
            payment.claimed_until = None
            payment.updated_at = now
            payments.append(payment)
    batch_insert(lines)
    if history:
        SeatChange.objects.bulk_create(history)
    subscriptions_save(subscriptions, subscription_fields)
    if credit:
        CreditLedgerEntry.objects.bulk_create(credit)
    if activity:  # one statement for all the orders' entries
        batch_insert(activity)
    if payments:
        _cards_that_paid_kept(payments)
        if batch_update(Payment, payments, PAYMENT_FIELDS) != len(payments):
            raise DatabaseError("A payment was not there to record its order.")
    # The invoices (an app above this one) are written in this transaction.
    orders_written.send(sender=Order, drafts=drafts)

    from checkout.tasks import send_order_confirmation

    for order in orders:
        # Robust: a broker or SMTP failure must not undo a placed order; the email stays
        # pending on the order for the sweeper.
        transaction.on_commit(
            lambda pk=order.pk: send_order_confirmation.delay(pk),
            robust=True,
        )
    return orders


def order_write(
    draft: OrderDraft, *, subscription_fields: list[str], cart: Cart | None = None
) -> Order:
    """Write one order (``orders_write``); a placed ``cart`` is emptied and gets a new token."""
    [order] = orders_write([draft], subscription_fields=subscription_fields)
    if cart is not None:
        CartLine.objects.filter(cart=cart).delete()
        cart_token_rotate(cart)
    return order


def cart_token_rotate(cart: Cart) -> None:
    """The next checkout of this cart is another one: it gets a new token."""
    cart.checkout_token = uuid.uuid4()
    cart.save(update_fields=["checkout_token", "updated_at"])


def subscriptions_save(subscriptions: list[Subscription], fields: list[str]) -> None:
    """Write ``fields`` of locked subscriptions in one statement and bump each one's version
    (a review made before the change is told apart by it)."""
    batch_update(Subscription, subscriptions, fields, increment=["version"])


def _cards_that_paid_kept(payments: list[Payment]) -> None:
    """A card entered at checkout that just paid becomes the account's card on file."""
    for payment in payments:
        method = payment.payment_method
        if method is not None and not method.is_default:
            card_on_file_make(method)


# -- A seat change's order (Place order, support staff) ----------------------------------


def order_number(at: datetime) -> str:
    return f"BC-{at:%Y%m%d}-{secrets.token_hex(4).upper()}"


def seat_change_draft(
    *,
    account: Account,
    review,
    placed_by: User | None,
    checkout_token: str,
    language: str,
    payment: Payment | None,
    channel: str = SeatChange.Channel.PORTAL,
) -> OrderDraft:
    """The order of a reviewed seat change, quoted again under lock (``review``).

    ``review`` is the cart's review (portal) or a one-line review without a
    cart (support staff changing seats on the customer's behalf). The account
    is locked and the quote was made from its balance under this lock, so the
    credit entries keep the balance at or above zero.
    """
    quote = review.quote
    now = clock.now()
    order = Order(
        number=order_number(now),
        account=account,
        placed_by=placed_by,
        placed_at=now,
        effective_at=quote.at,
        idempotency_key=checkout_token,
        language=language,
        tax_kind=quote.tax.kind,
        tax_rate=quote.tax.rate,
        vat_number=account.vat_number,
        credit=quote.credit,
        charge=quote.charge,
        subtotal=quote.subtotal,
        tax=quote.tax_amount,
        total=quote.total,
        credit_applied=quote.credit_applied,
        credit_added=quote.credit_added,
        amount_due=quote.amount_due,
        payment_method_label=str(payment.payment_method) if payment else "",
    )
    by_id = {line.subscription_id: line.subscription for line in review.lines}
    lines, history, changed, activity = [], [], [], []
    for line, line_quote in quote.lines:
        lines.append(
            OrderLine(
                order=order,
                subscription_id=line.subscription_id,
                product_name=by_id[line.subscription_id].plan.product.name,
                interval=line.interval,
                from_seats=line.current_seats,
                to_seats=line.new_seats,
                unit_price=line.unit_price,
                period_start=line.period_start,
                period_end=line.period_end,
                new_period_start=line_quote.new_period_start,
                new_period_end=line_quote.new_period_end,
                credit=line_quote.credit,
                charge=line_quote.charge,
                subtotal=line_quote.subtotal,
                tax=line_quote.tax,
                total=line_quote.total,
            )
        )
        history.append(
            SeatChange(
                subscription_id=line.subscription_id,
                from_seats=line.current_seats,
                to_seats=line.new_seats,
                at=quote.at,
                changed_by=placed_by,
                channel=channel,
                order_reference=order.number,
            )
        )
        # Locked by the re-quote, so its version is the current one.
        subscription = by_id[line.subscription_id]
        if channel == SeatChange.Channel.PORTAL:
            # Support's change writes its own entry, with the reason (checkout/staff.py).
            activity.append(
                activity_entry(
                    account=account,
                    actor=placed_by,
                    channel=Channel.PORTAL,
                    action="seat_change",
                    target=f"subscription {subscription.pk} ({subscription.plan.product.name})",
                    before={"seats": line.current_seats, "status": subscription.status},
                    after={"seats": line.new_seats, "status": "active", "order": order.number},
                    at=now,
                )
            )
        if subscription.status == Subscription.Status.CANCELED:
            # Subscribed again: a new start, no longer ending.
            subscription.cancel_at_period_end = False
        subscription.status = Subscription.Status.ACTIVE
        subscription.seats = line.new_seats
        subscription.billing_anchor = line_quote.new_period_start
        subscription.current_period_start = line_quote.new_period_start
        subscription.current_period_end = line_quote.new_period_end
        changed.append(subscription)
    method = payment.payment_method if payment is not None else None
    if channel == SeatChange.Channel.PORTAL and method is not None and not method.is_default:
        # A card entered at checkout that pays becomes the card on file (orders_write).
        activity.append(
            activity_entry(
                account=account,
                actor=placed_by,
                channel=Channel.PORTAL,
                action="card_from_checkout",
                target=f"card {method.pk}",
                after={"brand": method.brand, "last4": method.last4, "order": order.number},
                at=now,
            )
        )
    ledger = []
    if quote.credit_added.amount > 0:
        ledger.append((quote.credit_added, CreditLedgerEntry.Reason.SEAT_CHANGE_CREDIT))
    if quote.credit_applied.amount > 0:
        ledger.append((-quote.credit_applied, CreditLedgerEntry.Reason.APPLIED_TO_ORDER))
    credit = [
        CreditLedgerEntry(
            account=account,
            amount=amount,
            reason=reason,
            reference=order.number,
            created_by=placed_by,
            created_at=now,
        )
        for amount, reason in ledger
    ]
    return OrderDraft(
        order=order,
        lines=lines,
        subscriptions=changed,
        seat_changes=history,
        credit=credit,
        payment=payment,
        activity=activity,
    )


def seat_change_order_write(*, cart: Cart | None = None, **draft) -> Order:
    """Write a reviewed seat change's order (``seat_change_draft``'s arguments)."""
    return order_write(
        seat_change_draft(**draft), subscription_fields=SEAT_CHANGE_FIELDS, cart=cart
    )
