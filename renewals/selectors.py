"""What a past-due renewal owes, as the Billing Center and the Pay now page show it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from moneyed import Money

from payments.models import Payment
from renewals.batch import Renewal, credit_held, renewal_order_number, renewal_token
from renewals.run import quoting_run
from subscriptions.credit import credit_balance
from subscriptions.models import Account, Subscription
from subscriptions.money import round_money

UNPAID = (Subscription.Status.PAST_DUE, Subscription.Status.SUSPENDED)


@dataclass(frozen=True)
class RenewalOwed:
    """A past-due renewal: its period and the renewal quote Pay now would charge now."""

    subscription: Subscription
    product: str
    seats: int
    period_start: datetime
    period_end: datetime
    charge: Money
    tax_rate: Decimal
    tax: Money
    total: Money
    credit_applied: Money
    amount_due: Money
    suspended: bool
    next_attempt_at: datetime | None
    # An attempt waiting for the bank's step (3-D Secure): completed on its own page.
    waiting_payment_id: int | None


def renewals_owed(*, account: Account, subscriptions: list[Subscription]) -> dict[int, RenewalOwed]:
    """The past-due and suspended ones among ``subscriptions`` (read with their plan and
    product), by id, each quoted as Pay now would charge it now (the account's credit
    first). No query when none is unpaid; else four, whatever their number."""
    unpaid = [s for s in subscriptions if s.status in UNPAID]
    if not unpaid:
        return {}
    run = quoting_run()
    tokens = {s.pk: renewal_token(s.pk, s.current_period_end) for s in unpaid}
    numbers = {s.pk: renewal_order_number(s.pk, s.current_period_end) for s in unpaid}
    waiting = dict(
        Payment.objects.filter(
            checkout_token__in=list(tokens.values()),
            status=Payment.Status.REQUIRES_ACTION,
            order__isnull=True,
        ).values_list("checkout_token", "pk")
    )
    held = credit_held([account.pk], list(numbers.values()))
    balance = credit_balance(account)
    owed = {}
    for subscription in unpaid:
        subscription.account = account
        # Each as if paid alone: what its Pay now would take from the credit.
        credit = balance + round_money(held.get(numbers[subscription.pk], 0), account.currency)
        try:
            renewal = run.renewal(subscription, credit=credit)
        except ValueError:
            continue  # the data does not allow a quote (support's matter): no Pay now
        owed[subscription.pk] = owed_from(renewal, waiting.get(tokens[subscription.pk]))
    return owed


def renewal_owed(*, account: Account, subscription_id: int) -> RenewalOwed | None:
    """The account's past-due renewal of that subscription, quoted now (None: not owed)."""
    subscription = (
        Subscription.objects.select_related("plan__product")
        .filter(pk=subscription_id, account=account, status__in=UNPAID)
        .first()
    )
    if subscription is None:
        return None
    return renewals_owed(account=account, subscriptions=[subscription]).get(subscription.pk)


def owed_from(renewal: Renewal, waiting_payment_id: int | None) -> RenewalOwed:
    subscription, quote = renewal.subscription, renewal.quote
    return RenewalOwed(
        subscription=subscription,
        product=subscription.plan.product.name,
        seats=subscription.seats,
        period_start=renewal.new_start,
        period_end=renewal.new_end,
        charge=quote.charge,
        tax_rate=quote.tax_rate,
        tax=quote.tax,
        total=quote.total,
        credit_applied=quote.credit_applied,
        amount_due=quote.amount_due,
        suspended=subscription.status == Subscription.Status.SUSPENDED,
        next_attempt_at=subscription.next_renewal_attempt_at,
        waiting_payment_id=waiting_payment_id,
    )
