"""Renewals: each subscription whose period ended starts its next one and pays for it.

Periods are counted from the billing anchor (docs/billing-rules.md), so an
anchor on the 31st renews on the 28th of February and on the 31st of March; a
subscription several periods behind renews period by period, one order each.
The amounts come from one pure function, ``quote_renewal``.

A batch goes through three steps, so that neither a crash nor a second run at
the same time can charge a period twice (claim and charge in ``renewals/steps.py``,
record in ``renewals/record.py``; this module runs them):

1. Claim (one short transaction). The batch's due subscriptions and their
   accounts are locked with ``SKIP LOCKED``: a concurrent run takes other rows.
   Each renewal to be charged gets a ``Payment`` row, claimed for a while and
   committed before any gateway is asked; the credit it uses is taken from the
   ledger under the account lock (credit pays first). Cancellations at period
   end, and renewals the credit pays in full, are written right here.
2. Charge (no transaction, no lock held): the gateway charges each claimed
   payment off session, with the payment's own idempotency key.
3. Record (one short transaction). A paid renewal gets its order (kind
   renewal, email pending), its order line and its next period. A decline
   puts the subscription past due, retried 1, 3 and 7 days after the first
   failure, then suspended; the credit the attempt held goes back. A bank
   that asks the customer to authenticate (3-D Secure) also puts it past
   due, but its payment waits for the customer with the credit it holds,
   and the billing admins are emailed a link to complete it
   (``renewals/payments.py``); the retries ask the gateway how that
   payment stands instead of charging again.

On PostgreSQL, outside a transaction, a run overlaps its batches: while a
second thread (with a database connection of its own) charges and records
one batch, the run claims the next, so PostgreSQL and Python work at the same
time. The two transactions never wait for each other: they lock different
subscriptions, and the claim locks accounts ``FOR NO KEY UPDATE``, which the
record's foreign-key checks on those accounts do not conflict with.

The order's idempotency key is derived from the subscription and the period
start, so a period is renewed at most once whatever runs. A run that finds a
live claim leaves that subscription to its owner; an attempt whose claim ran
out (a crash, a gateway that did not answer) is sent again as the same
payment, with the same idempotency key, so money moves at most once. Every
batch costs the same number of queries whatever its size, and nothing is kept
from one batch to the next but the counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import datetime

from django.conf import settings
from django.db import connection, connections
from django.db.models import QuerySet
from django.db.models.functions import Mod
from moneyed import Money

from checkout.models import Order
from payments.gateways import PaymentGateway, get_gateway
from payments.models import Payment
from renewals.batch import (
    Batch,
    Renewal,
    attempts_by_token,
    claimed_now,
    claims_release,
    credit_held,
    next_period,
    outcome_of,
    renewal_order_number,
    renewal_token,
    subscriptions_due,
    with_plans,
)
from renewals.record import batch_record, paid_record
from renewals.report import (
    CANCELED,
    ERROR,
    RENEWED,
    UNAVAILABLE,
    RenewalOutcome,
    RenewalSummary,
    amount_text,
)
from renewals.steps import batch_charge, batch_claim
from subscriptions import clock
from subscriptions.credit import credit_balances
from subscriptions.models import Account, Subscription
from subscriptions.money import round_money
from subscriptions.proration import RenewalQuote, quote_renewal
from subscriptions.selectors import standard_tax_rates
from subscriptions.vat import TaxTreatment, resolve_tax_treatment

logger = logging.getLogger(__name__)

# Distinct quotes a run remembers (price, licenses, VAT rate, credit): bounded memory.
QUOTES_KEPT = 10_000


class RenewalRun:
    def __init__(
        self, *, at: datetime, batch_size: int, gateway: PaymentGateway, shard: tuple[int, int]
    ) -> None:
        self.left_for_later: set[int] = set()
        self.shard = shard
        self.at = at
        self.batch_size = batch_size
        self.gateway = gateway
        self.rates = standard_tax_rates()
        # Dry run only: credit a simulated renewal used, by account (only accounts that had some).
        self.credit_used: dict[int, Money] = {}
        self.quotes: dict[tuple, RenewalQuote] = {}

    def batch_query(self, cursor: int) -> QuerySet[Subscription]:
        due = subscriptions_due(at=self.at)
        index, count = self.shard
        if count > 1:
            # By account: two shards never wait for each other's account locks.
            due = due.alias(shard=Mod("account_id", count)).filter(shard=index)
        return (
            due.filter(pk__gt=cursor)
            # Left for a later run (no answer, bad data): not asked again in this one.
            .exclude(pk__in=self.left_for_later)
            .select_related("account")
            .order_by("pk")
        )

    def _treatment(self, account: Account) -> TaxTreatment:
        return resolve_tax_treatment(
            seller_country=settings.SELLER_COUNTRY,
            customer_country=account.country,
            vat_number=account.vat_number,
            standard_rates=self.rates,
        )

    def renewal(self, subscription, *, credit: Money, language: str = "en") -> Renewal:
        """Quote the subscription's next period; raises ValueError on data the rules refuse."""
        new_start, new_end = next_period(subscription)
        treatment = self._treatment(subscription.account)
        # quote_renewal is pure: the same price, seats, rate and credit give the same quote.
        key = (subscription.plan.price, subscription.seats, treatment.rate, credit)
        if (quote := self.quotes.get(key)) is None:
            quote = quote_renewal(
                unit_price=subscription.plan.price,
                seats=subscription.seats,
                tax_rate=treatment.rate,
                account_credit=credit,
            )
            if len(self.quotes) < QUOTES_KEPT:
                self.quotes[key] = quote
        return Renewal(
            subscription=subscription,
            token=renewal_token(subscription.pk, new_start),
            number=renewal_order_number(subscription.pk, new_start),
            new_start=new_start,
            new_end=new_end,
            treatment=treatment,
            quote=quote,
            language=language,
        )

    # -- dry run ------------------------------------------------------------------------

    def planned_batches(self) -> Iterator[Batch]:
        """A dry run's one pass: what each batch would do."""
        cursor = 0
        while (batch := self.plan(cursor)) is not None:
            yield batch
            cursor = batch.last_pk

    def plan(self, cursor: int) -> Batch | None:
        """What the batch after ``cursor`` would do; reads only, locks nothing."""
        subscriptions = with_plans(list(self.batch_query(cursor)[: self.batch_size]))
        if not subscriptions:
            return None
        batch = Batch(last_pk=subscriptions[-1].pk)
        accounts = {s.account_id: s.account for s in subscriptions}
        balances = credit_balances(accounts.values())
        attempts = attempts_by_token(
            renewal_token(s.pk, s.current_period_end) for s in subscriptions
        )
        now = clock.now()
        for subscription in subscriptions:
            token = renewal_token(subscription.pk, subscription.current_period_end)
            if any(claimed_now(p, now) for p in attempts.get(token, ())):
                continue  # another run is charging it right now
            if subscription.cancel_at_period_end and not attempts.get(token):
                batch.outcomes.append(outcome_of(subscription, CANCELED))
                continue
            balance = balances[subscription.account_id]
            if isinstance(balance, Exception):
                batch.outcomes.append(outcome_of(subscription, ERROR, str(balance)))
                continue
            used = self.credit_used.get(subscription.account_id)
            credit = balance - used if used is not None else balance
            # Period by period while the periods end by ``at``, as the real run would.
            while subscription.current_period_end <= self.at:
                try:
                    renewal = self.renewal(subscription, credit=credit)
                except ValueError as error:
                    batch.outcomes.append(outcome_of(subscription, ERROR, str(error)))
                    break
                batch.outcomes.append(renewal.outcome(RENEWED))
                if renewal.quote.credit_applied.amount:
                    credit -= renewal.quote.credit_applied
                    self.credit_used[subscription.account_id] = balance - credit
                subscription.current_period_end = renewal.new_end
        return batch

    # -- a real run ---------------------------------------------------------------------

    def claim(self, cursor: int) -> Batch | None:
        """Step 1: lock the batch, write what needs no gateway, commit claimed payments."""
        return batch_claim(self, cursor)

    def finish(self, batch: Batch) -> None:
        """Steps 2 and 3 for a claimed batch."""
        self.charge(batch)
        self.record(batch)

    def finished_batches(self, cursor: int, *, overlap: bool) -> Iterator[Batch]:
        """One pass from ``cursor``: claim, charge and record batch after batch.

        With ``overlap`` the next batch is claimed while a second thread charges
        and records the one before (see the module docstring). Each batch is
        yielded once it is recorded. Subscriptions still behind after their
        renewal come round again, from the lowest, once the pass has reached the end.
        """
        pool = ThreadPoolExecutor(1, thread_name_prefix="renewals") if overlap else None
        behind: list[int] = []
        claimed = None  # a batch claimed (committed) and not yet charged
        try:
            claimed = self.claim(cursor)
            while claimed is not None:
                batch, claimed = claimed, None
                if pool is None:
                    self.finish(batch)
                    claimed = self.claim(batch.last_pk)
                else:
                    finishing = pool.submit(self.finish, batch)
                    try:
                        claimed = self.claim(batch.last_pk)
                    finally:
                        finishing.result()
                behind += batch.behind
                yield batch
                if claimed is None and behind:
                    claimed, behind = self.claim(min(behind) - 1), []
        except BaseException:
            # Stopped (an error, the caller gone): a batch claimed and never sent is
            # released, so the next run takes it up at once, with the same keys.
            if claimed is not None:
                claims_release(claimed)
            raise
        finally:
            if pool is not None:
                pool.submit(connections.close_all).result()  # the thread's own connection
                pool.shutdown()

    def charge(self, batch: Batch) -> None:
        """Step 2: ask the gateway, outside any transaction, while the claims hold."""
        batch_charge(batch, gateway=self.gateway)

    def record(self, batch: Batch) -> None:
        """Step 3: write what the gateway said, in one transaction."""
        batch_record(batch, at=self.at)

    def record_paid(self, renewals: list[Renewal], batch: Batch, *, now) -> list[Order]:
        return paid_record(renewals, batch, at=self.at, now=now)


def quoting_run() -> RenewalRun:
    """A run that only quotes renewals (the next charge, what a past-due renewal owes):
    ``renewal`` asks no gateway, so none is built (a Stripe client per page view)."""
    return RenewalRun(at=clock.now(), batch_size=1, gateway=None, shard=(0, 1))  # type: ignore[arg-type]


def subscriptions_renew(
    *,
    at: datetime,
    batch_size: int = 1000,
    dry_run: bool = False,
    gateway: PaymentGateway | None = None,
    progress: Callable[[list[RenewalOutcome]], None] | None = None,
    shard: tuple[int, int] = (0, 1),
    overlap: bool | None = None,
) -> RenewalSummary:
    """Renew every subscription due at ``at``, batch by batch; see the module docstring.

    ``progress`` is called after each batch with what it did. With ``dry_run``
    nothing is written and no gateway is asked: the summary says what would
    happen if every charge went through. Safe to run again and to run twice at
    once: each period is renewed, and charged, at most once. ``shard=(i, n)``
    renews only the subscriptions of accounts whose id is ``i`` modulo ``n``:
    ``n`` runs, one per shard, share the work without meeting (the fan-out of
    ``renew_subscriptions --fan-out``). ``overlap`` claims each batch while the
    one before is charged and recorded (by default on PostgreSQL, outside a
    transaction: a second thread needs to see what the first committed).
    """
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"at must be a time-zone aware datetime, not {at!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number of at least 1, not {batch_size!r}.")
    index, count = _require_shard(shard)
    run = RenewalRun(
        at=at, batch_size=batch_size, gateway=gateway or get_gateway(), shard=(index, count)
    )
    summary = RenewalSummary(at=at, dry_run=dry_run)
    if overlap is None:
        overlap = connection.vendor == "postgresql" and not connection.in_atomic_block
    overlap = overlap and not dry_run
    # A concurrent run's locks (SKIP LOCKED on accounts) can hide a due subscription
    # from this pass; a few more passes from the start pick up what it left behind.
    # Bounded, so a gateway that does not answer is not asked again and again.
    for _ in range(1 if dry_run else 3):
        batches = run.planned_batches() if dry_run else run.finished_batches(0, overlap=overlap)
        claimed = False
        # Closed at once if this loop stops (progress raising): no claim is left held.
        with closing(batches):
            for batch in batches:
                claimed = True
                run.left_for_later.update(
                    outcome.subscription_id
                    for outcome in batch.outcomes
                    if outcome.action in (UNAVAILABLE, ERROR)
                )
                for outcome in batch.outcomes:
                    summary.add(outcome)
                if progress is not None:
                    progress(batch.outcomes)
        if not claimed:
            break
    return summary


# A renewal paid by its customer renews these; a canceled or ended one stays as it is.
_RENEWABLE = (
    Subscription.Status.ACTIVE,
    Subscription.Status.PAST_DUE,
    Subscription.Status.SUSPENDED,
)


def renewal_paid_record(
    *, subscription: Subscription, payment: Payment, gateway: PaymentGateway
) -> Order:
    """Record a renewal paid outside a run (the customer completed the bank's step).

    The same writer as a run's paid renewals: the order, its line, the next
    period, the end of the dunning and the confirmation after commit. The
    caller holds the subscription's row lock, and ``payment`` (succeeded, not
    yet recorded) is the one for the period that ends at the subscription's
    ``current_period_end``. Raises ``ValueError`` when the renewal quoted now
    no longer asks for the amount the payment took.
    """
    with_plans([subscription])
    now = clock.now()
    run = RenewalRun(at=now, batch_size=1, gateway=gateway, shard=(0, 1))
    number = renewal_order_number(subscription.pk, subscription.current_period_end)
    held = credit_held([subscription.account_id], [number]).get(number, 0)
    renewal = run.renewal(
        subscription,
        credit=round_money(held, subscription.account.currency),
        language=payment.language,
    )
    if renewal.token != payment.checkout_token:
        raise ValueError(f"payment {payment.pk} is not the renewal of the current period")
    if subscription.status not in _RENEWABLE:
        raise ValueError(f"subscription {subscription.pk} is {subscription.status}")
    if renewal.quote.amount_due != payment.amount:
        raise ValueError(
            f"payment {payment.pk} of {amount_text(payment.amount)} no longer matches the "
            f"renewal's {amount_text(renewal.quote.amount_due)}"
        )
    renewal.payment = payment
    [order] = run.record_paid([renewal], Batch(last_pk=subscription.pk), now=now)
    return order


def _require_shard(shard: object) -> tuple[int, int]:
    try:
        index, count = shard  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ValueError(f"shard must be a pair (index, count), not {shard!r}.") from None
    for value in (index, count):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"shard must be two whole numbers, not {shard!r}.")
    if not 0 <= index < count:
        raise ValueError(f"shard index must be from 0 to count - 1, not {shard!r}.")
    return index, count
