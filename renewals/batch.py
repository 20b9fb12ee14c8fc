"""One renewal on its way through a batch, and what a batch reads and writes besides
the run's own steps (``renewals/run.py``)."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from moneyed import Money

from checkout.models import Order, OrderLine
from checkout.orders import OrderDraft
from payments.gateways import ChargeResult
from payments.models import RENEWAL_TOKEN_PREFIX, Payment
from renewals.report import RENEWED, RenewalOutcome
from subscriptions.models import Account, CreditLedgerEntry, Membership, Plan, Subscription
from subscriptions.money import zero
from subscriptions.proration import RenewalQuote, period_containing
from subscriptions.vat import TaxTreatment

logger = logging.getLogger(__name__)

# Days after the first failed charge on which it is tried again; the next failure suspends.
RETRY_AFTER_DAYS = (1, 3, 7)


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
    return (
        f"{RENEWAL_TOKEN_PREFIX}{subscription_id}:{period_start.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}"
    )


def renewal_order_number(subscription_id: int, period_start: datetime) -> str:
    """Readable and unique: a subscription's periods never start twice on one day."""
    return f"RN-{period_start.astimezone(UTC):%Y%m%d}-{subscription_id}"


def next_period(subscription: Subscription) -> tuple[datetime, datetime]:
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


def billing_languages(account_ids: Iterable[int]) -> dict[int, str]:
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


@dataclass
class Renewal:
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
        return outcome_of(
            self.subscription,
            action,
            reason,
            period_start=self.new_start,
            period_end=self.new_end,
            amount_due=self.quote.amount_due,
            credit_applied=self.quote.credit_applied,
            order_number=self.number if action == RENEWED else "",
        )


def outcome_of(
    subscription: Subscription, action: str, reason: str = "", **period
) -> RenewalOutcome:
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
class Batch:
    last_pk: int
    outcomes: list[RenewalOutcome] = field(default_factory=list)
    to_charge: list[Renewal] = field(default_factory=list)
    # Renewed and still behind ``at``: the next batch starts again from them.
    behind: list[int] = field(default_factory=list)
    # When its payments were claimed (they are claimed for RENEWAL_CLAIM from then).
    claimed_at: float = field(default_factory=time.monotonic)


def claims_release(batch: Batch) -> None:
    """Give up the claims of a batch whose payments were never sent to the gateway."""
    payments = [r.payment.pk for r in batch.to_charge if r.payment is not None and r.payment.pk]
    try:
        Payment.objects.filter(pk__in=payments, order__isnull=True).update(claimed_until=None)
    except Exception:
        # Left claimed: a later run takes them up when the claims run out.
        logger.exception("Could not release the claims of payments %s", payments)


class Zeros(dict):
    """Zero in each currency, made once per batch rather than once a line."""

    def __missing__(self, currency) -> Money:
        self[currency] = amount = zero(currency)
        return amount


def with_plans(subscriptions: list[Subscription]) -> list[Subscription]:
    """Give each subscription its plan and product: one query per batch, one object per plan.

    A join would build a plan and a product object for every subscription.
    """
    plans = Plan.objects.select_related("product").in_bulk({s.plan_id for s in subscriptions})
    cache = Subscription.plan.field
    for subscription in subscriptions:
        cache.set_cached_value(subscription, plans[subscription.plan_id])
    return subscriptions


def authentication_request_queue(payment_id: int) -> None:
    from renewals.tasks import send_renewal_authentication_request

    # Robust as the confirmation: the request stays unsent on the payment for the sweeper.
    transaction.on_commit(
        lambda: send_renewal_authentication_request.delay(payment_id), robust=True
    )


def attempts_by_token(tokens: Iterable[str]) -> dict[str, list[Payment]]:
    attempts: dict[str, list[Payment]] = defaultdict(list)
    for payment in Payment.objects.filter(checkout_token__in=list(tokens)).select_related(
        "payment_method"
    ):
        attempts[payment.checkout_token].append(payment)
    return attempts


def claimed_now(payment: Payment, now: datetime) -> bool:
    return (
        payment.status in (Payment.Status.PROCESSING, Payment.Status.REQUIRES_ACTION)
        and payment.claimed_until is not None
        and payment.claimed_until > now
    )


def interrupted_attempt(attempts: Iterable[Payment]) -> Payment | None:
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


def awaiting_customer(attempts: Iterable[Payment]) -> Payment | None:
    """An attempt the bank asked the customer to authenticate, not completed yet."""
    for payment in attempts:
        if payment.order_id is None and payment.status == Payment.Status.REQUIRES_ACTION:
            return payment
    return None


def dunning_step(subscription: Subscription, *, at: datetime, now: datetime) -> None:
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


def renewal_order_draft(renewal: Renewal, *, now: datetime, zeros: Zeros) -> OrderDraft:
    """A paid renewal's order for the order writer: one line, the next period, the end of
    the dunning. A renewal changes no seats and takes its credit when it is claimed."""
    subscription, quote, payment = renewal.subscription, renewal.quote, renewal.payment
    nothing = zeros[quote.currency]  # a renewal credits no unused time
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
        credit=nothing,
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
        credit=nothing,
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
    return OrderDraft(order=order, lines=[line], subscriptions=[subscription], payment=payment)
