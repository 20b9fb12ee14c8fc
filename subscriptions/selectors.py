"""Reads: load what the billing rules need, then let the pure functions compute."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from subscriptions import clock
from subscriptions.credit import credit_balance
from subscriptions.models import (
    Account,
    Membership,
    SeatAssignment,
    Subscription,
    TaxRate,
)
from subscriptions.proration import (
    QuoteError,
    SeatChangeQuote,
    period_end,
    quote_seat_change,
    validate_new_seats,
)
from subscriptions.vat import TaxTreatment, resolve_tax_treatment


def standard_tax_rates(*, countries: Iterable[str] | None = None) -> dict[str, Decimal]:
    """The recorded standard VAT rates, all of them or only those of ``countries``.

    Read from the table each time (no cache): a rate edited in the admin applies
    to the next quote.
    """
    rates = TaxRate.objects.all()
    if countries is not None:
        rates = rates.filter(country__in=[country.upper() for country in countries])
    return dict(rates.values_list("country", "rate"))


def account_tax_treatment(
    *, account: Account, standard_rates: Mapping[str, Decimal] | None = None
) -> TaxTreatment:
    # The rule only ever applies the customer country's rate (at home or as the
    # destination), so that is the one row read (unless ``standard_rates`` were
    # read already); reverse charge and customers outside the EU read none.
    return resolve_tax_treatment(
        seller_country=settings.SELLER_COUNTRY,
        customer_country=account.country,
        vat_number=account.vat_number,
        standard_rates=_RatesOnDemand() if standard_rates is None else standard_rates,
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


def billing_admin_accounts_by_name(*, user) -> list[Account]:
    """The accounts ``user`` is billing admin of, by name: one query.

    No DISTINCT: a user has at most one membership per account (unique).
    """
    return list(
        Account.objects.filter(
            memberships__user=user, memberships__role=Membership.Role.BILLING_ADMIN
        ).order_by("name", "pk")
    )


def assigned_seats_count(subscription: str = "pk") -> Coalesce:
    """The number of users assigned to the subscription ``subscription`` refers to
    (an outer query's field), as an annotation: a correlated subquery, so the outer
    query needs no join or GROUP BY of its own."""
    assigned = (
        SeatAssignment.objects.filter(subscription=OuterRef(subscription))
        .order_by()
        .values("subscription")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(assigned), 0)


def _account_subscriptions(account: Account) -> QuerySet[Subscription]:
    """The account's subscriptions with plan, product and the number of users assigned
    (``assigned_seats``), by product name and interval.

    A canceled one is among them only while it is the account's last word on its
    product (no open subscription of the product, none canceled that ended
    later): it is offered with "Subscribe now".
    """
    canceled = Subscription.Status.CANCELED
    same_product = Subscription.objects.filter(
        account=OuterRef("account"), plan__product=OuterRef("plan__product")
    )
    ended_later = Q(current_period_end__gt=OuterRef("current_period_end")) | Q(
        current_period_end=OuterRef("current_period_end"), pk__gt=OuterRef("pk")
    )
    superseded = Exists(same_product.exclude(status=canceled)) | Exists(
        same_product.filter(ended_later, status=canceled)
    )
    return (
        Subscription.objects.filter(account=account)
        .exclude(Q(status=canceled) & superseded)
        .select_related("plan__product")
        .annotate(assigned_seats=assigned_seats_count())
        .order_by("plan__product__name", "plan__interval", "pk")
    )


def account_subscriptions(*, account: Account) -> list[Subscription]:
    """The account's subscriptions (a canceled one only while nothing replaced it) with
    plan, product and assigned-seat count, by product name and interval: one query."""
    return list(_account_subscriptions(account))


def account_subscription(*, account: Account, pk: int) -> Subscription | None:
    """One of them by id (None if the account has no such subscription, or it is a
    canceled one that was replaced; an id out of the column's range matches nothing)."""
    return _account_subscriptions(account).filter(pk=pk).first()


def subscription_assigned_seats(*, subscription: Subscription) -> int:
    """The users assigned to ``subscription``: its ``assigned_seats`` when it was read with
    them (``account_subscription``), else counted now."""
    assigned = getattr(subscription, "assigned_seats", None)
    return subscription.assignments.count() if assigned is None else assigned


def is_purchase(subscription: Subscription) -> bool:
    """A trial (running or expired) and a canceled subscription are bought as a change
    from 0 seats ("Subscribe now")."""
    return subscription.status in (
        Subscription.Status.TRIAL,
        Subscription.Status.EXPIRED,
        Subscription.Status.CANCELED,
    )


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
    function. An expired trial or a canceled subscription is bought as a change
    from 0 seats with a new period starting at ``at``. Raises a ``ValueError``
    subclass on bad input.
    """
    at = at or clock.now()
    plan = subscription.plan
    account = subscription.account
    if account.is_corporate:
        raise QuoteError(
            f"{account} is billed through its corporate billing channel.", code="corporate"
        )
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
        account_credit=credit_balance(account),
    )
