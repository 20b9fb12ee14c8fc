"""Reads: load what the billing rules need, then let the pure functions compute."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, QuerySet, Sum
from moneyed import Money

from subscriptions import clock
from subscriptions.models import Account, CreditLedgerEntry, Membership, Subscription, TaxRate
from subscriptions.money import CurrencyMismatch, round_money
from subscriptions.proration import (
    QuoteError,
    SeatChangeQuote,
    period_end,
    quote_seat_change,
    validate_new_seats,
)
from subscriptions.vat import TaxTreatment, resolve_tax_treatment


def account_credit_balance(*, account: Account) -> Money:
    """The account's credit: the sum of its ledger entries, in its currency.

    An entry in another currency is never added in (BILLING_RULES.md): it
    raises, so the balance is never a guess.
    """
    totals = dict(
        CreditLedgerEntry.objects.filter(account=account)
        .values_list("amount_currency")
        .annotate(total=Sum("amount"))
        .values_list("amount_currency", "total")
    )
    foreign = sorted(set(totals) - {account.currency})
    if foreign:
        raise CurrencyMismatch(
            f"{account} keeps its credit in {account.currency}, but its ledger holds "
            f"entries in {', '.join(foreign)}."
        )
    return round_money(totals.get(account.currency) or Decimal("0"), account.currency)


def standard_tax_rates(*, countries: Iterable[str] | None = None) -> dict[str, Decimal]:
    """The recorded standard VAT rates, all of them or only those of ``countries``.

    Read from the table each time (no cache): a rate edited in the admin applies
    to the next quote.
    """
    rates = TaxRate.objects.all()
    if countries is not None:
        rates = rates.filter(country__in=[country.upper() for country in countries])
    return dict(rates.values_list("country", "rate"))


def account_tax_treatment(*, account: Account) -> TaxTreatment:
    # The rule only ever applies the customer country's rate (at home or as the
    # destination), so that is the one row read; reverse charge and customers
    # outside the EU read none.
    return resolve_tax_treatment(
        seller_country=settings.SELLER_COUNTRY,
        customer_country=account.country,
        vat_number=account.vat_number,
        standard_rates=_RatesOnDemand(),
    )


class _RatesOnDemand(Mapping[str, Decimal]):
    """The standard rates as ``resolve_tax_treatment`` asks for them: one country, read then."""

    def __getitem__(self, country: str) -> Decimal:
        return standard_tax_rates(countries=[country])[country]

    def __iter__(self) -> Iterator[str]:
        return iter(standard_tax_rates())

    def __len__(self) -> int:
        return len(standard_tax_rates())


def accounts_for_user(*, user) -> QuerySet[Account]:
    return Account.objects.filter(memberships__user=user).distinct()


def billing_admin_accounts(*, user) -> QuerySet[Account]:
    return Account.objects.filter(
        memberships__user=user, memberships__role=Membership.Role.BILLING_ADMIN
    ).distinct()


def account_subscriptions(*, account: Account) -> QuerySet[Subscription]:
    """The account's subscriptions with plan, product and assigned-seat count, one query."""
    return (
        Subscription.objects.filter(account=account)
        .exclude(status=Subscription.Status.CANCELED)
        .select_related("plan__product")
        .annotate(assigned_seats=Count("assignments"))
        .order_by("plan__product__name", "plan__interval")
    )


def subscription_assigned_seats(*, subscription: Subscription) -> int:
    return subscription.assignments.count()


def is_purchase(subscription: Subscription) -> bool:
    """A trial (running or expired) is bought as a change from 0 seats."""
    return subscription.status in (Subscription.Status.TRIAL, Subscription.Status.EXPIRED)


def subscription_quote_basis(
    *, subscription: Subscription, at: datetime
) -> tuple[int, datetime, datetime]:
    """The seats and period a change at ``at`` starts from.

    A purchase (a trial bought with "Subscribe now") starts from 0 seats and
    has no period to credit: its first period starts at ``at``.
    """
    if is_purchase(subscription):
        return 0, at, period_end(at, subscription.plan.interval)
    return subscription.seats, subscription.current_period_start, subscription.current_period_end


def subscription_seat_change_quote(
    *, subscription: Subscription, new_seats: int, at: datetime | None = None
) -> SeatChangeQuote:
    """The quote a billing admin sees for changing ``subscription`` to ``new_seats``.

    Checks the seat rules (plan minimum and maximum, assigned seats, a real
    change), resolves the account's tax and credit, and asks the one quote
    function. An expired trial is bought as a change from 0 seats with a new
    period starting at ``at``. Raises a ``ValueError`` subclass on bad input.
    """
    at = at or clock.now()
    plan = subscription.plan
    account = subscription.account
    if account.is_corporate:
        raise QuoteError(
            f"{account} is billed through its corporate billing channel.", code="corporate"
        )
    if subscription.status == Subscription.Status.CANCELED:
        raise QuoteError("This subscription is canceled.", code="canceled")
    current_seats, start, end = subscription_quote_basis(subscription=subscription, at=at)
    validate_new_seats(
        current_seats=current_seats,
        new_seats=new_seats,
        assigned_seats=subscription_assigned_seats(subscription=subscription),
        min_seats=plan.min_seats,
        max_seats=plan.max_seats,
    )
    return quote_seat_change(
        unit_price=plan.price,
        interval=plan.interval,
        current_seats=current_seats,
        new_seats=new_seats,
        period_start=start,
        period_end=end,
        at=at,
        tax_rate=account_tax_treatment(account=account).rate,
        account_credit=account_credit_balance(account=account),
    )
