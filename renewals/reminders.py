"""The reminder, 30 days ahead, that a yearly subscription renews, and for how much.

Yearly charges are large and come once a year: the billing admins are told the
date and the amount (the renewal quote the run will charge, ``quote_renewal``,
with the account's credit as it stands today) and where to change or cancel.
A reminder is a ``RenewalReminder`` row, one per subscription and period end
(a unique constraint), written in batches of constant queries; each is emailed
by a task after commit and marked sent under its row lock, so a rerun, a second
run at once or a retried task never sends it twice. ``manage.py
send_renewal_reminders`` and the daily beat task run ``renewal_reminders_create``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from checkout.tasks import ALREADY_SENT, BUSY, NOT_FOUND, SENT
from renewals.batch import billing_languages, with_plans
from renewals.models import RenewalReminder
from renewals.sweeps import sweep_cutoff, unsent_deliver
from subscriptions import clock
from subscriptions.credit import credit_balances
from subscriptions.models import Account, Plan, Subscription
from subscriptions.proration import quote_renewal
from subscriptions.selectors import standard_tax_rates
from subscriptions.vat import resolve_tax_treatment

logger = logging.getLogger(__name__)

REMINDER_AHEAD = timedelta(days=30)
REMINDER_BATCH = 500
NO_LONGER_DUE = "no longer due"  # renewed, canceled or changed plan before it went: not sent


def reminders_due(*, at: datetime) -> QuerySet[Subscription]:
    """Active yearly self-service subscriptions renewing within 30 days of ``at``, not set
    to cancel, and not yet reminded of this renewal."""
    reminded = RenewalReminder.objects.filter(
        subscription=OuterRef("pk"), period_end=OuterRef("current_period_end")
    )
    return Subscription.objects.filter(
        status=Subscription.Status.ACTIVE,
        cancel_at_period_end=False,
        plan__interval=Plan.Interval.YEAR,
        account__billing_channel=Account.BillingChannel.SELF_SERVICE,
        current_period_end__gt=at,
        current_period_end__lte=at + REMINDER_AHEAD,
    ).filter(~Exists(reminded))


def renewal_reminders_create(*, at: datetime, batch_size: int = REMINDER_BATCH) -> int:
    """Owe a reminder for each yearly renewal due within 30 days; each is emailed after
    commit. Returns how many were written. Safe to rerun and to run twice at once."""
    rates = standard_tax_rates()
    now = clock.now()
    created, cursor = 0, 0
    while True:
        with transaction.atomic():
            subscriptions = with_plans(
                list(
                    reminders_due(at=at)
                    .filter(pk__gt=cursor)
                    .select_related("account")
                    .order_by("pk")[:batch_size]
                )
            )
            if not subscriptions:
                return created
            cursor = subscriptions[-1].pk
            accounts = {s.account_id: s.account for s in subscriptions}
            balances = credit_balances(accounts.values())
            languages = billing_languages(list(accounts))
            reminders = []
            for subscription in subscriptions:
                account = subscription.account
                balance = balances[subscription.account_id]
                try:
                    if isinstance(balance, Exception):
                        raise balance
                    treatment = resolve_tax_treatment(
                        seller_country=settings.SELLER_COUNTRY,
                        customer_country=account.country,
                        vat_number=account.vat_number,
                        standard_rates=rates,
                    )
                    # The run's own quote: the credit pays first, as it will at the renewal.
                    quote = quote_renewal(
                        unit_price=subscription.plan.price,
                        seats=subscription.seats,
                        tax_rate=treatment.rate,
                        account_credit=balance,
                    )
                except ValueError as error:
                    logger.warning("No renewal reminder for %s: %s", subscription.pk, error)
                    continue
                # Two renewals of one account share its credit, as in the run.
                balances[subscription.account_id] = balance - quote.credit_applied
                reminders.append(
                    RenewalReminder(
                        subscription=subscription,
                        period_end=subscription.current_period_end,
                        amount=quote.amount_due,
                        language=languages.get(subscription.account_id, "en"),
                        created_at=now,
                    )
                )
            # A run at the same time may have written some: the constraint keeps one.
            RenewalReminder.objects.bulk_create(reminders, ignore_conflicts=True)
            written = list(
                RenewalReminder.objects.filter(
                    subscription_id__in=[s.pk for s in subscriptions],
                    created_at=now,
                    sent_at__isnull=True,
                ).values_list("pk", flat=True)
            )
            created += len(written)
            for reminder_id in written:
                transaction.on_commit(lambda pk=reminder_id: _queue(pk), robust=True)


def _queue(reminder_id: int) -> None:
    from renewals.tasks import send_renewal_reminder

    send_renewal_reminder.delay(reminder_id)


def renewal_reminder_deliver(*, reminder_id: int, skip_locked: bool = False) -> str:
    """Send one reminder unless it went already; record that it did (under its row lock).

    A subscription renewed, canceled or set to cancel meanwhile needs no reminder.
    """
    from renewals.emails import renewal_reminder_send

    with transaction.atomic():
        reminder = (
            RenewalReminder.objects.select_for_update(of=("self",), skip_locked=skip_locked)
            .select_related("subscription__account", "subscription__plan__product")
            .filter(pk=reminder_id)
            .first()
        )
        if reminder is None:
            exists = RenewalReminder.objects.filter(pk=reminder_id).exists()
            return BUSY if skip_locked and exists else NOT_FOUND
        if reminder.sent_at is not None:
            return ALREADY_SENT
        subscription = reminder.subscription
        still_due = (
            subscription.status == Subscription.Status.ACTIVE
            and not subscription.cancel_at_period_end
            and subscription.current_period_end == reminder.period_end
        )
        if still_due:
            connection = get_connection(timeout=settings.ORDER_EMAIL_SMTP_TIMEOUT)
            renewal_reminder_send(reminder=reminder, connection=connection)
        reminder.sent_at = clock.now()
        reminder.save(update_fields=["sent_at"])
    return SENT if still_due else NO_LONGER_DUE


def renewal_reminders_dispatch(
    *, older_than: timedelta | None = None, limit: int | None = None
) -> dict[int, str]:
    """Send the reminders that stayed unsent (the broker was down, a worker died)."""
    unsent = (
        RenewalReminder.objects.filter(
            sent_at__isnull=True, created_at__lte=sweep_cutoff(older_than)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return unsent_deliver(
        unsent,
        lambda pk: renewal_reminder_deliver(reminder_id=pk, skip_locked=True),
        what="renewal reminder",
        limit=limit,
    )
