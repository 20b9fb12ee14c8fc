"""What the next renewal of each subscription will charge, as the renewal run quotes it.

The Billing Center shows it as "Next charge". Nothing is computed here: each
subscription goes through the run's own ``RenewalRun.renewal`` (the period after the
current one, the account's tax treatment, ``quote_renewal``), with the credit the
run would find then.
"""

from __future__ import annotations

import copy
import heapq
from collections.abc import Iterable

from moneyed import Money

from renewals.batch import Renewal
from renewals.run import quoting_run
from subscriptions.models import Account, Subscription


def renews(subscription: Subscription) -> bool:
    """Whether the renewal run will charge the subscription at the end of its period."""
    return (
        subscription.status == Subscription.Status.ACTIVE
        and not subscription.cancel_at_period_end
        and not subscription.account.is_corporate
    )


def owes(subscription: Subscription) -> bool:
    """Past due or suspended: its unpaid renewal (Pay now) takes the credit first."""
    return subscription.status in (Subscription.Status.PAST_DUE, Subscription.Status.SUSPENDED)


def next_charges(
    subscriptions: Iterable[Subscription], *, account: Account, credit: Money
) -> dict[int, Renewal | ValueError]:
    """The next renewal of each of ``account``'s subscriptions that renews, by id.

    ``subscriptions`` are read with their plan (``select_related`` or ``with_plans``) and
    are given ``account`` (no query each); ``credit`` is the account's balance now. The
    renewals are quoted in the order the run will charge them, each with the credit the
    earlier ones leave (credit pays first, docs/billing-rules.md "A renewal"): an unpaid
    renewal of a past-due subscription first, and a monthly subscription's renewals
    before a yearly one's date, as long as there is credit left for them to take. A
    subscription whose data the rules refuse maps to the ``ValueError`` the run would
    report. One query (the VAT rates).
    """
    subscriptions = list(subscriptions)
    for subscription in subscriptions:
        if subscription.account_id != account.pk:
            raise ValueError(f"subscription {subscription.pk} is not {account}'s")
        Subscription.account.field.set_cached_value(subscription, account)
    if account.is_corporate:
        return {}
    wanted = {s.pk for s in subscriptions if renews(s)}
    if not wanted:
        return {}
    run = quoting_run()
    queue = [(s.current_period_end, s.pk, s) for s in subscriptions if s.pk in wanted or owes(s)]
    heapq.heapify(queue)
    charges: dict[int, Renewal | ValueError] = {}
    while queue and len(charges) < len(wanted):
        _end, pk, subscription = heapq.heappop(queue)
        try:
            renewal = run.renewal(subscription, credit=credit)
        except ValueError as error:
            if pk in wanted:
                charges.setdefault(pk, error)
            continue
        if pk in wanted:
            charges.setdefault(pk, renewal)
        credit -= renewal.quote.credit_applied
        if credit.amount > 0 and pk in wanted:
            # Its following renewal may come before another's next one: it takes credit too.
            following = copy.copy(subscription)
            following.current_period_start = renewal.new_start
            following.current_period_end = renewal.new_end
            heapq.heappush(queue, (renewal.new_end, pk, following))
    return charges
