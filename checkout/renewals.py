"""Renewals: each subscription whose period ended starts its next one and pays for it.

Periods are counted from the billing anchor (docs/billing-rules.md), so an
anchor on the 31st renews on the 28th of February and on the 31st of March; a
subscription several periods behind renews period by period, one order each.
The amounts come from one pure function, ``quote_renewal``.

A batch goes through three steps, so that neither a crash nor a second run at
the same time can charge a period twice:

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
   (``checkout/renewal_payments.py``); the retries ask the gateway how that
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
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Mod
from moneyed import Money

from checkout.attempts import payment_attempt_new, payment_attempts_create
from checkout.batch_writes import rows_update
from checkout.gateways import (
    FAILED,
    REQUIRES_ACTION,
    SUCCEEDED,
    ChargeResult,
    PaymentGateway,
    get_gateway,
)
from checkout.models import Order, OrderLine, Payment, PaymentMethod
from checkout.orders import OrderDraft, orders_write, subscriptions_save
from subscriptions import clock
from subscriptions.credit import credit_balances
from subscriptions.models import Account, CreditLedgerEntry, Membership, Plan, Subscription
from subscriptions.money import round_money, zero
from subscriptions.proration import RenewalQuote, period_containing, quote_renewal
from subscriptions.selectors import standard_tax_rates
from subscriptions.vat import TaxTreatment, resolve_tax_treatment

logger = logging.getLogger(__name__)

# How long a run owns the payments it claimed; longer than charging one batch.
RENEWAL_CLAIM = timedelta(hours=1)
# A batch stops charging this long before its claims run out; the rest waits for a later run.
CLAIM_MARGIN = timedelta(minutes=10)
# Days after the first failed charge on which it is tried again; the next failure suspends.
RETRY_AFTER_DAYS = (1, 3, 7)
# Distinct quotes a run remembers (price, licenses, VAT rate, credit): bounded memory.
QUOTES_KEPT = 10_000

RENEWED = "renewed"
CANCELED = "canceled"
PAST_DUE = "past_due"
SUSPENDED = "suspended"
UNAVAILABLE = "unavailable"  # the gateway did not answer: left for a later run
ERROR = "error"  # the data does not allow a renewal (e.g. a tax rate is missing)

# Every subscription a renewal changes gets its version bumped (a stale review is told apart).
_SUBSCRIPTION_FIELDS = [
    "status",
    "current_period_start",
    "current_period_end",
    "past_due_since",
    "renewal_attempts",
    "next_renewal_attempt_at",
    "updated_at",
]
_SUBSCRIPTION_ATTNAMES = [field.attname for field in Subscription._meta.concrete_fields]
# What recording an unpaid renewal's attempt changes (a paid one: the order writer's).
_PAYMENT_FIELDS = [
    "status",
    "reference",
    "client_secret",
    "failure_reason",
    "claimed_until",
    "updated_at",
]


# -- What a run reports ---------------------------------------------------------------


@dataclass(frozen=True)
class RenewalOutcome:
    """What happened (or, in a dry run, would happen) to one period of one subscription."""

    subscription_id: int
    account: str
    product: str
    action: str
    period_start: datetime | None = None
    period_end: datetime | None = None
    amount_due: Money | None = None
    credit_applied: Money | None = None
    order_number: str = ""
    reason: str = ""

    def describe(self, *, dry_run: bool = False) -> str:
        who = f"subscription {self.subscription_id} ({self.account}, {self.product})"
        period = (
            f"{self.period_start:%Y-%m-%d %H:%M} – {self.period_end:%Y-%m-%d %H:%M} UTC"
            if self.period_start and self.period_end
            else ""
        )
        due = _amount(self.amount_due) if self.amount_due is not None else ""
        credit = (
            f" after {_amount(self.credit_applied)} credit"
            if self.credit_applied and self.credit_applied.amount
            else ""
        )
        if self.action == RENEWED:
            verb = "would renew" if dry_run else f"renewed ({self.order_number})"
            return f"{verb} {who} for {period}: {due} due{credit}"
        if self.action == CANCELED:
            return f"{'would cancel' if dry_run else 'canceled'} {who} at its period end"
        if self.action == PAST_DUE and self.reason == "authentication_required":
            return (
                f"the bank asks the customer to authenticate: {who} is past due, {due} for {period}"
            )
        if self.action == PAST_DUE:
            return f"charge declined ({self.reason}): {who} is past due, {due} for {period}"
        if self.action == SUSPENDED:
            return f"charge declined again ({self.reason}): {who} is suspended"
        if self.action == UNAVAILABLE:
            return f"not charged ({self.reason}): {who} is left for a later run"
        return f"not renewed: {who}: {self.reason}"


def _amount(money: Money) -> str:
    return f"{money.currency.code} {money.amount}"


@dataclass
class RenewalSummary:
    """The counts of one run; in a dry run, what it would do if every charge went through."""

    at: datetime
    dry_run: bool = False
    renewed: int = 0
    canceled: int = 0
    past_due: int = 0
    suspended: int = 0
    unavailable: int = 0
    errors: int = 0
    charged: dict[str, Decimal] = field(default_factory=dict)

    def add(self, outcome: RenewalOutcome) -> None:
        counter = {
            RENEWED: "renewed",
            CANCELED: "canceled",
            PAST_DUE: "past_due",
            SUSPENDED: "suspended",
            UNAVAILABLE: "unavailable",
            ERROR: "errors",
        }[outcome.action]
        setattr(self, counter, getattr(self, counter) + 1)
        if outcome.action == RENEWED and outcome.amount_due and outcome.amount_due.amount:
            code = outcome.amount_due.currency.code
            self.charged[code] = self.charged.get(code, Decimal(0)) + outcome.amount_due.amount

    @property
    def failed(self) -> bool:
        """Something could not be done and needs a later run or a person (not a decline)."""
        return bool(self.unavailable or self.errors)

    def charged_text(self) -> str:
        return ", ".join(f"{code} {amount}" for code, amount in sorted(self.charged.items()))

    def line(self) -> str:
        charged = self.charged_text() or "nothing"
        if self.dry_run:
            return (
                f"Dry run, nothing written: would renew {self.renewed} period(s), charging "
                f"{charged}; would cancel {self.canceled}; {self.errors} error(s)."
            )
        return (
            f"Renewed {self.renewed} period(s), charged {charged}; {self.past_due} failed → "
            f"past due, {self.suspended} suspended, {self.canceled} canceled; "
            f"{self.unavailable} left for a later run, {self.errors} error(s)."
        )

    def merge(self, other: dict) -> None:
        """Add the counts of another run (its ``as_dict``): a fanned-out run's shards."""
        for name in ("renewed", "past_due", "suspended", "canceled", "unavailable", "errors"):
            setattr(self, name, getattr(self, name) + int(other[name]))
        for code, amount in other["charged"].items():
            self.charged[code] = self.charged.get(code, Decimal(0)) + Decimal(amount)

    def as_dict(self) -> dict:
        return {
            "at": self.at.isoformat(),
            "dry_run": self.dry_run,
            "renewed": self.renewed,
            "charged": {code: str(amount) for code, amount in sorted(self.charged.items())},
            "past_due": self.past_due,
            "suspended": self.suspended,
            "canceled": self.canceled,
            "unavailable": self.unavailable,
            "errors": self.errors,
        }


# -- Reads ------------------------------------------------------------------------------


def subscriptions_due(*, at: datetime) -> QuerySet[Subscription]:
    """Subscriptions to renew at ``at``: the period ended, and active or due for a retry.

    Corporate accounts are billed through their own channel, never charged here.
    """
    return Subscription.objects.filter(
        Q(status=Subscription.Status.ACTIVE)
        | Q(status=Subscription.Status.PAST_DUE, next_renewal_attempt_at__lte=at),
        current_period_end__lte=at,
        account__billing_channel=Account.BillingChannel.SELF_SERVICE,
    )


def renewal_token(subscription_id: int, period_start: datetime) -> str:
    """The idempotency key of renewing one subscription for the period starting then."""
    return f"renewal:{subscription_id}:{period_start.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}"


def renewal_order_number(subscription_id: int, period_start: datetime) -> str:
    """Readable and unique: a subscription's periods never start twice on one day."""
    return f"RN-{period_start.astimezone(UTC):%Y%m%d}-{subscription_id}"


def _next_period(subscription: Subscription) -> tuple[datetime, datetime]:
    """The period after the current one, its end counted from the billing anchor."""
    start = subscription.current_period_end
    _, end = period_containing(subscription.billing_anchor, subscription.plan.interval, start)
    return start, end


def credit_held(account_ids: Iterable[int], numbers: Iterable[str]) -> dict[str, Decimal]:
    """Credit still held by renewals' unpaid attempts, by renewal order number: what was
    applied minus what came back."""
    rows = (
        CreditLedgerEntry.objects.filter(account_id__in=account_ids, reference__in=numbers)
        .values("reference")
        .annotate(total=Sum("amount"))
        .values_list("reference", "total")
    )
    return {reference: -total for reference, total in rows}


def credit_given_back(
    *, account_id: int, amount: Money, reference: str, at: datetime
) -> CreditLedgerEntry:
    """The ledger entry (not saved) that gives back the credit an unpaid renewal held."""
    return CreditLedgerEntry(
        account_id=account_id,
        amount=amount,
        reason=CreditLedgerEntry.Reason.CORRECTION,
        reference=reference,
        note="Renewal not paid: the credit it held is given back",
        created_at=at,
    )


def _billing_languages(account_ids: Iterable[int]) -> dict[int, str]:
    """The language of each account's first billing admin: the renewal email's language."""
    languages: dict[int, str] = {}
    rows = (
        Membership.objects.filter(account_id__in=account_ids, role=Membership.Role.BILLING_ADMIN)
        .order_by("account_id", "pk")
        .values_list("account_id", "user__language")
    )
    for account_id, language in rows:
        languages.setdefault(account_id, language)
    return languages


# -- One renewal on its way through a batch ---------------------------------------------


@dataclass
class _Renewal:
    subscription: Subscription
    token: str
    number: str
    new_start: datetime
    new_end: datetime
    treatment: TaxTreatment
    quote: RenewalQuote
    language: str
    payment: Payment | None = None
    result: ChargeResult | None = None
    # Its payment waits for the customer to authenticate: the gateway is asked how it
    # stands, never asked to charge again.
    waiting: bool = False

    def outcome(self, action: str, *, reason: str = "") -> RenewalOutcome:
        return _outcome(
            self.subscription,
            action,
            reason,
            period_start=self.new_start,
            period_end=self.new_end,
            amount_due=self.quote.amount_due,
            credit_applied=self.quote.credit_applied,
            order_number=self.number if action == RENEWED else "",
        )


def _outcome(subscription: Subscription, action: str, reason: str = "", **period) -> RenewalOutcome:
    """What happened to ``subscription``; ``period`` adds the renewed period's details."""
    return RenewalOutcome(
        subscription_id=subscription.pk,
        account=subscription.account.name,
        product=subscription.plan.product.name,
        action=action,
        reason=reason,
        **period,
    )


@dataclass
class _Batch:
    last_pk: int
    outcomes: list[RenewalOutcome] = field(default_factory=list)
    to_charge: list[_Renewal] = field(default_factory=list)
    # Renewed and still behind ``at``: the next batch starts again from them.
    behind: list[int] = field(default_factory=list)
    # When its payments were claimed (they are claimed for RENEWAL_CLAIM from then).
    claimed_at: float = field(default_factory=time.monotonic)


class _RenewalRun:
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

    def _batch_query(self, cursor: int) -> QuerySet[Subscription]:
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

    def _renewal(self, subscription, *, credit: Money, language: str = "en") -> _Renewal:
        """Quote the subscription's next period; raises ValueError on data the rules refuse."""
        new_start, new_end = _next_period(subscription)
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
        return _Renewal(
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

    def planned_batches(self) -> Iterator[_Batch]:
        """A dry run's one pass: what each batch would do."""
        cursor = 0
        while (batch := self.plan(cursor)) is not None:
            yield batch
            cursor = batch.last_pk

    def plan(self, cursor: int) -> _Batch | None:
        """What the batch after ``cursor`` would do; reads only, locks nothing."""
        subscriptions = _with_plans(list(self._batch_query(cursor)[: self.batch_size]))
        if not subscriptions:
            return None
        batch = _Batch(last_pk=subscriptions[-1].pk)
        accounts = {s.account_id: s.account for s in subscriptions}
        balances = credit_balances(accounts.values())
        attempts = _attempts_by_token(
            renewal_token(s.pk, s.current_period_end) for s in subscriptions
        )
        now = clock.now()
        for subscription in subscriptions:
            token = renewal_token(subscription.pk, subscription.current_period_end)
            if any(_claimed(p, now) for p in attempts.get(token, ())):
                continue  # another run is charging it right now
            if subscription.cancel_at_period_end and not attempts.get(token):
                batch.outcomes.append(_outcome(subscription, CANCELED))
                continue
            balance = balances[subscription.account_id]
            if isinstance(balance, Exception):
                batch.outcomes.append(_outcome(subscription, ERROR, str(balance)))
                continue
            used = self.credit_used.get(subscription.account_id)
            credit = balance - used if used is not None else balance
            # Period by period while the periods end by ``at``, as the real run would.
            while subscription.current_period_end <= self.at:
                try:
                    renewal = self._renewal(subscription, credit=credit)
                except ValueError as error:
                    batch.outcomes.append(_outcome(subscription, ERROR, str(error)))
                    break
                batch.outcomes.append(renewal.outcome(RENEWED))
                if renewal.quote.credit_applied.amount:
                    credit -= renewal.quote.credit_applied
                    self.credit_used[subscription.account_id] = balance - credit
                subscription.current_period_end = renewal.new_end
        return batch

    # -- a real run ---------------------------------------------------------------------

    def claim(self, cursor: int) -> _Batch | None:
        """Step 1: lock the batch, write what needs no gateway, commit claimed payments."""
        now = clock.now()
        claimed_until = now + RENEWAL_CLAIM  # every payment this batch claims or reclaims
        with transaction.atomic():
            # NO KEY UPDATE: exclusive among claims and Place order (which locks the
            # account FOR UPDATE), but not against the foreign-key checks of a batch
            # being recorded at the same time, which would otherwise hide its accounts.
            subscriptions = list(
                self._batch_query(cursor).select_for_update(
                    skip_locked=True, of=("self", "account"), no_key=True
                )[: self.batch_size]
            )
            if not subscriptions:
                return None
            _with_plans(subscriptions)
            batch = _Batch(last_pk=subscriptions[-1].pk)
            accounts = {s.account_id: s.account for s in subscriptions}
            account_ids = list(accounts)
            tokens = {s.pk: renewal_token(s.pk, s.current_period_end) for s in subscriptions}
            attempts = _attempts_by_token(tokens.values())
            balances = credit_balances(accounts.values())
            methods = {
                method.account_id: method
                for method in PaymentMethod.objects.filter(
                    account_id__in=account_ids, is_default=True, gateway=self.gateway.name
                )
            }
            languages = _billing_languages(account_ids)
            interrupted = {
                token: payment
                for token in tokens.values()
                if (payment := _interrupted(attempts.get(token, ()))) is not None
            }
            waiting = {
                token: payment
                for token in tokens.values()
                if (payment := _awaiting_customer(attempts.get(token, ()))) is not None
            }
            held = (
                credit_held(
                    account_ids,
                    [renewal_order_number(s.pk, s.current_period_end) for s in subscriptions],
                )
                if attempts
                else {}
            )

            new_payments: list[Payment] = []
            reclaimed: list[Payment] = []
            ledger: list[CreditLedgerEntry] = []
            paid_now: list[_Renewal] = []
            changed: list[Subscription] = []
            for subscription in subscriptions:
                token = tokens[subscription.pk]
                previous = attempts.get(token, [])
                if any(_claimed(attempt, now) for attempt in previous):
                    continue  # another run is charging it right now
                language = languages.get(subscription.account_id, "en")
                if payment := interrupted.get(token) or waiting.get(token):
                    # Sent before and never recorded: ask again as the same payment.
                    number = renewal_order_number(subscription.pk, subscription.current_period_end)
                    credit = round_money(held.get(number, 0), subscription.account.currency)
                    try:
                        renewal = self._renewal(subscription, credit=credit, language=language)
                    except ValueError as error:
                        batch.outcomes.append(_outcome(subscription, ERROR, str(error)))
                        continue
                    if renewal.quote.amount_due != payment.amount:
                        due = _amount(renewal.quote.amount_due)
                        problem = (
                            f"interrupted payment {payment.pk} of {_amount(payment.amount)} "
                            f"no longer matches the renewal's {due}"
                        )
                        batch.outcomes.append(_outcome(subscription, ERROR, problem))
                        continue
                    if payment.status not in (
                        Payment.Status.SUCCEEDED,
                        Payment.Status.REQUIRES_ACTION,
                    ):
                        payment.status = Payment.Status.PROCESSING
                    payment.claimed_until = claimed_until
                    payment.updated_at = now
                    payment.account = subscription.account
                    reclaimed.append(payment)
                    renewal.payment = payment
                    renewal.waiting = payment.status == Payment.Status.REQUIRES_ACTION
                    batch.to_charge.append(renewal)
                    continue
                if subscription.cancel_at_period_end:
                    subscription.status = Subscription.Status.CANCELED
                    subscription.next_renewal_attempt_at = None
                    subscription.updated_at = now
                    changed.append(subscription)
                    batch.outcomes.append(_outcome(subscription, CANCELED))
                    continue
                balance = balances[subscription.account_id]
                if isinstance(balance, Exception):
                    batch.outcomes.append(_outcome(subscription, ERROR, str(balance)))
                    continue
                number = renewal_order_number(subscription.pk, subscription.current_period_end)
                if still_held := round_money(held.get(number, 0), balance.currency):
                    # An earlier attempt failed where its credit was not given back (the
                    # bank's authentication failed, reported by the page or a webhook).
                    ledger.append(
                        credit_given_back(
                            account_id=subscription.account_id,
                            amount=still_held,
                            reference=number,
                            at=now,
                        )
                    )
                    balance = balances[subscription.account_id] = balance + still_held
                try:
                    renewal = self._renewal(subscription, credit=balance, language=language)
                except ValueError as error:
                    batch.outcomes.append(_outcome(subscription, ERROR, str(error)))
                    continue
                quote = renewal.quote
                if quote.credit_applied.amount:
                    # Taken now, under the account lock; given back if the charge fails.
                    balances[subscription.account_id] = balance - quote.credit_applied
                    ledger.append(
                        CreditLedgerEntry(
                            account_id=subscription.account_id,
                            amount=-quote.credit_applied,
                            reason=CreditLedgerEntry.Reason.APPLIED_TO_ORDER,
                            reference=renewal.number,
                            note=f"Renewal from {renewal.new_start:%Y-%m-%d}",
                            created_at=now,
                        )
                    )
                if not quote.amount_due.amount:
                    paid_now.append(renewal)
                    continue
                method = methods.get(subscription.account_id)
                renewal.payment = payment_attempt_new(
                    account=subscription.account,
                    payment_method=method,
                    checkout_token=renewal.token,
                    idempotency_key=f"{renewal.token}:{len(previous) + 1}",
                    gateway_name=self.gateway.name,
                    amount=quote.amount_due,
                    quoted_at=self.at,
                    language=language,
                    claimed_until=claimed_until,
                    created_at=now,
                )
                new_payments.append(renewal.payment)
                batch.to_charge.append(renewal)

            payment_attempts_create(new_payments)
            if reclaimed:
                rows_update(Payment, reclaimed, ["status", "claimed_until", "updated_at"])
            self._record_paid(paid_now, batch, now=now)
            CreditLedgerEntry.objects.bulk_create(ledger)
            subscriptions_save(changed, _SUBSCRIPTION_FIELDS)
        return batch

    def finish(self, batch: _Batch) -> None:
        """Steps 2 and 3 for a claimed batch."""
        self.charge(batch)
        self.record(batch)

    def finished_batches(self, cursor: int, *, overlap: bool) -> Iterator[_Batch]:
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
                _claims_release(claimed)
            raise
        finally:
            if pool is not None:
                pool.submit(connections.close_all).result()  # the thread's own connection
                pool.shutdown()

    def charge(self, batch: _Batch) -> None:
        """Step 2: ask the gateway, outside any transaction, while the claims hold."""
        # From the claim, not from now: an overlapped batch waits for the one before.
        deadline = batch.claimed_at + (RENEWAL_CLAIM - CLAIM_MARGIN).total_seconds()
        for renewal in batch.to_charge:
            payment = renewal.payment
            if payment.status == Payment.Status.SUCCEEDED:
                renewal.result = ChargeResult(SUCCEEDED, payment.reference)
                continue
            if time.monotonic() > deadline:
                continue  # its claim would run out while we charge: a later run does it
            try:
                if renewal.waiting:
                    # Charging again would ask the bank again and make a second payment:
                    # the one waiting for the customer is asked how it stands.
                    renewal.result = self.gateway.retrieve(payment=payment)
                    continue
                renewal.result = self.gateway.charge_off_session(payment=payment)
            except Exception as error:
                # Not known whether money moved: the attempt stays open, and the next run
                # asks again with the same idempotency key.
                logger.warning("Renewal payment %s not charged: %s", payment.pk, error)
                renewal.result = ChargeResult("unavailable", failure_reason=str(error)[:200])

    def record(self, batch: _Batch) -> None:
        """Step 3: write what the gateway said, in one transaction."""
        if not batch.to_charge:
            return
        now = clock.now()
        with transaction.atomic():
            # Re-read under lock: a writer between the steps keeps its changes. Every
            # column, onto the claimed objects (which keep their account and plan).
            fresh = {
                row[0]: row
                for row in Subscription.objects.select_for_update()
                .filter(pk__in=[renewal.subscription.pk for renewal in batch.to_charge])
                .order_by("pk")
                .values_list(*_SUBSCRIPTION_ATTNAMES)
            }
            # A payment that waited for its customer may have moved on since the claim
            # (the page, a webhook): then it is theirs, whatever the gateway said here.
            waiting = [renewal.payment.pk for renewal in batch.to_charge if renewal.waiting]
            moved_on = (
                set(
                    Payment.objects.select_for_update()
                    .filter(pk__in=waiting)
                    .exclude(status=Payment.Status.REQUIRES_ACTION, order__isnull=True)
                    .values_list("pk", flat=True)
                )
                if waiting
                else set()
            )
            paid, changed, payments, ledger = [], [], [], []
            for renewal in batch.to_charge:
                subscription = renewal.subscription
                for attname, value in zip(
                    _SUBSCRIPTION_ATTNAMES, fresh[subscription.pk], strict=True
                ):
                    setattr(subscription, attname, value)
                if (
                    subscription.current_period_end != renewal.new_start
                    or renewal.payment.pk in moved_on
                ):
                    # Renewed meanwhile by another writer (the customer completing the
                    # authentication, its webhook): its payment and order are theirs.
                    continue
                payment, result = renewal.payment, renewal.result
                payment.updated_at = now
                if result is None or result.status not in (SUCCEEDED, FAILED, REQUIRES_ACTION):
                    # Not answered, not tried in time, or still undecided at the gateway: the
                    # attempt stays open (no reference kept) and the next run asks again.
                    payment.claimed_until = None
                    payments.append(payment)
                    reason = (result.failure_reason or result.status) if result else "not tried"
                    batch.outcomes.append(renewal.outcome(UNAVAILABLE, reason=reason))
                    continue
                payment.reference = result.reference or payment.reference
                payment.claimed_until = None
                if result.succeeded:
                    payment.status = Payment.Status.SUCCEEDED
                    paid.append(renewal)
                    continue
                if result.status == REQUIRES_ACTION:
                    # The bank asks the customer to authenticate: the payment waits for
                    # them (its credit stays held), the subscription goes past due, and
                    # the billing admins are asked to complete it on the portal.
                    payment.status = Payment.Status.REQUIRES_ACTION
                    payment.client_secret = result.client_secret or payment.client_secret
                    payment.failure_reason = "authentication_required"
                    payments.append(payment)
                    _dunning_step(subscription, at=self.at, now=now)
                    changed.append(subscription)
                    action = (
                        SUSPENDED
                        if subscription.status == Subscription.Status.SUSPENDED
                        else PAST_DUE
                    )
                    batch.outcomes.append(renewal.outcome(action, reason=payment.failure_reason))
                    if not renewal.waiting:
                        _authentication_request_queue(payment.pk)
                    continue
                # A decline, or an authentication the customer failed or gave up.
                payment.status = Payment.Status.FAILED
                payment.failure_reason = result.failure_reason or result.status
                payments.append(payment)
                if renewal.quote.credit_applied.amount:
                    ledger.append(
                        credit_given_back(
                            account_id=subscription.account_id,
                            amount=renewal.quote.credit_applied,
                            reference=renewal.number,
                            at=now,
                        )
                    )
                _dunning_step(subscription, at=self.at, now=now)
                changed.append(subscription)
                action = (
                    SUSPENDED if subscription.status == Subscription.Status.SUSPENDED else PAST_DUE
                )
                batch.outcomes.append(renewal.outcome(action, reason=payment.failure_reason))
            self._record_paid(paid, batch, now=now)
            if payments:
                rows_update(Payment, payments, _PAYMENT_FIELDS)
            CreditLedgerEntry.objects.bulk_create(ledger)
            subscriptions_save(changed, _SUBSCRIPTION_FIELDS)

    def _record_paid(self, renewals: list[_Renewal], batch: _Batch, *, now) -> list[Order]:
        """Orders, lines and next periods for paid renewals (the order writer); emails
        after commit."""
        if not renewals:
            return []
        nothing = _Zeros()  # a line's credit: zero in the quote's currency
        drafts = []
        for renewal in renewals:
            subscription, quote = renewal.subscription, renewal.quote
            payment = renewal.payment
            order = Order(
                kind=Order.Kind.RENEWAL,
                number=renewal.number,
                account=subscription.account,
                placed_by=None,
                placed_at=now,
                effective_at=renewal.new_start,
                idempotency_key=renewal.token,
                language=renewal.language,
                tax_kind=str(renewal.treatment.kind),
                tax_rate=quote.tax_rate,
                vat_number=subscription.account.vat_number,
                credit=nothing[quote.currency],
                charge=quote.charge,
                subtotal=quote.charge,
                tax=quote.tax,
                total=quote.total,
                credit_applied=quote.credit_applied,
                credit_added=quote.credit_added,
                amount_due=quote.amount_due,
                payment_method_label=(
                    str(payment.payment_method) if payment and payment.payment_method else ""
                ),
            )
            line = OrderLine(
                subscription=subscription,
                product_name=subscription.plan.product.name,
                interval=subscription.plan.interval,
                from_seats=subscription.seats,
                to_seats=subscription.seats,
                unit_price=quote.unit_price,
                period_start=subscription.current_period_start,
                period_end=subscription.current_period_end,
                new_period_start=renewal.new_start,
                new_period_end=renewal.new_end,
                credit=nothing[quote.currency],
                charge=quote.charge,
                subtotal=quote.charge,
                tax=quote.tax,
                total=quote.total,
            )
            subscription.status = Subscription.Status.ACTIVE
            subscription.current_period_start = renewal.new_start
            subscription.current_period_end = renewal.new_end
            subscription.past_due_since = None
            subscription.renewal_attempts = 0
            subscription.next_renewal_attempt_at = None
            subscription.updated_at = now
            drafts.append(
                OrderDraft(order=order, lines=[line], subscriptions=[subscription], payment=payment)
            )
            batch.outcomes.append(renewal.outcome(RENEWED))
            if renewal.new_end <= self.at:
                batch.behind.append(subscription.pk)
        return orders_write(drafts, subscription_fields=_SUBSCRIPTION_FIELDS)


def _claims_release(batch: _Batch) -> None:
    """Give up the claims of a batch whose payments were never sent to the gateway."""
    payments = [r.payment.pk for r in batch.to_charge if r.payment is not None and r.payment.pk]
    try:
        Payment.objects.filter(pk__in=payments, order__isnull=True).update(claimed_until=None)
    except Exception:
        # Left claimed: a later run takes them up when the claims run out.
        logger.exception("Could not release the claims of payments %s", payments)


class _Zeros(dict):
    """Zero in each currency, made once per batch rather than once a line."""

    def __missing__(self, currency) -> Money:
        self[currency] = amount = zero(currency)
        return amount


def _with_plans(subscriptions: list[Subscription]) -> list[Subscription]:
    """Give each subscription its plan and product: one query per batch, one object per plan.

    A join would build a plan and a product object for every subscription.
    """
    plans = Plan.objects.select_related("product").in_bulk({s.plan_id for s in subscriptions})
    cache = Subscription.plan.field
    for subscription in subscriptions:
        cache.set_cached_value(subscription, plans[subscription.plan_id])
    return subscriptions


def _authentication_request_queue(payment_id: int) -> None:
    from checkout.tasks import send_renewal_authentication_request

    # Robust as the confirmation: the request stays unsent on the payment for the sweeper.
    transaction.on_commit(
        lambda: send_renewal_authentication_request.delay(payment_id), robust=True
    )


def _attempts_by_token(tokens: Iterable[str]) -> dict[str, list[Payment]]:
    attempts: dict[str, list[Payment]] = defaultdict(list)
    for payment in Payment.objects.filter(checkout_token__in=list(tokens)).select_related(
        "payment_method"
    ):
        attempts[payment.checkout_token].append(payment)
    return attempts


def _claimed(payment: Payment, now: datetime) -> bool:
    return (
        payment.status in (Payment.Status.PROCESSING, Payment.Status.REQUIRES_ACTION)
        and payment.claimed_until is not None
        and payment.claimed_until > now
    )


def _interrupted(attempts: Iterable[Payment]) -> Payment | None:
    """An attempt that may have been sent but was never recorded (its claim ran out).

    Renewals never cancel an attempt themselves: one canceled by someone else
    without its gateway reference may still have taken money (a lost answer),
    so it is sent again too, as the same payment, rather than as a new charge.
    """
    for payment in attempts:
        if payment.order_id is None and payment.status in (
            Payment.Status.PROCESSING,
            Payment.Status.SUCCEEDED,
            Payment.Status.CANCELED,
        ):
            return payment
    return None


def _awaiting_customer(attempts: Iterable[Payment]) -> Payment | None:
    """An attempt the bank asked the customer to authenticate, not completed yet."""
    for payment in attempts:
        if payment.order_id is None and payment.status == Payment.Status.REQUIRES_ACTION:
            return payment
    return None


def _dunning_step(subscription: Subscription, *, at: datetime, now: datetime) -> None:
    """One more failed charge: past due with the next try scheduled, or suspended."""
    subscription.renewal_attempts += 1
    if subscription.past_due_since is None:
        subscription.past_due_since = at
    if subscription.renewal_attempts > len(RETRY_AFTER_DAYS):
        subscription.status = Subscription.Status.SUSPENDED
        subscription.next_renewal_attempt_at = None
    else:
        subscription.status = Subscription.Status.PAST_DUE
        days = RETRY_AFTER_DAYS[subscription.renewal_attempts - 1]
        # Counted from the first failure, but never within a day of this one: a run
        # for a past --at must not squeeze the schedule into the next few beats.
        subscription.next_renewal_attempt_at = max(
            subscription.past_due_since + timedelta(days=days), now + timedelta(hours=23)
        )
    subscription.updated_at = now


# -- The service ------------------------------------------------------------------------


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
    run = _RenewalRun(
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
    _with_plans([subscription])
    now = clock.now()
    run = _RenewalRun(at=now, batch_size=1, gateway=gateway, shard=(0, 1))
    number = renewal_order_number(subscription.pk, subscription.current_period_end)
    held = credit_held([subscription.account_id], [number]).get(number, 0)
    renewal = run._renewal(
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
            f"payment {payment.pk} of {_amount(payment.amount)} no longer matches the "
            f"renewal's {_amount(renewal.quote.amount_due)}"
        )
    renewal.payment = payment
    [order] = run._record_paid([renewal], _Batch(last_pk=subscription.pk), now=now)
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
