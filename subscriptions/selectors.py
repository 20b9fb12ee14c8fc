"""Reads: load what the billing rules need, then let the pure functions compute."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from moneyed import Money

from subscriptions import clock
from subscriptions.models import (
    Account,
    CreditLedgerEntry,
    Membership,
    SeatAssignment,
    Subscription,
    TaxRate,
)
from subscriptions.money import CurrencyMismatch, round_money
from subscriptions.proration import (
    QuoteError,
    SeatChangeQuote,
    period_end,
    quote_seat_change,
    validate_new_seats,
)
from subscriptions.vat import TaxTreatment, resolve_tax_treatment


def _table_column(model, field: str) -> tuple[str, str]:
    """A model's quoted table name and the quoted column of one of its fields."""
    quote = connection.ops.quote_name
    return quote(model._meta.db_table), quote(model._meta.get_field(field).column)


# The statements below are written once from the models' own table and column
# names (no value in them comes from a request; values are parameters): the
# ORM compiled each of them again on every page, about 1 ms of a page's CPU.


def _credit_totals_sql() -> str:
    ledger, account = _table_column(CreditLedgerEntry, "account")
    _, amount = _table_column(CreditLedgerEntry, "amount")
    _, currency = _table_column(CreditLedgerEntry, "amount_currency")
    return (
        f"SELECT {currency}, SUM({amount}) FROM {ledger}"  # noqa: S608 (the models' own names)
        f" WHERE {account} = %s GROUP BY {currency}"
    )


def _tax_rate_sql() -> str:
    table, country = _table_column(TaxRate, "country")
    _, rate = _table_column(TaxRate, "rate")
    return f"SELECT {country}, {rate} FROM {table} WHERE {country} = %s"  # noqa: S608


def _converters(fields) -> list[list]:
    """The converters the ORM applies to each field's column here (none on PostgreSQL)."""
    result = []
    for model_field in fields:
        column = model_field.get_col(model_field.model._meta.db_table)
        functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        result.append([(function, column) for function in functions])
    return result


def _fixed_rows(sql: str, params: list, converters: list[list]) -> list[tuple]:
    """Run one of the fixed statements; each value as the ORM would have read it."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not any(converters):
        return rows
    converted = []
    for row in rows:
        values = list(row)
        for index, functions in enumerate(converters):
            for function, column in functions:
                values[index] = function(values[index], column, connection)
        converted.append(tuple(values))
    return converted


_CREDIT_TOTALS_SQL = _credit_totals_sql()
_CREDIT_TOTALS_CONVERTERS = _converters(
    [CreditLedgerEntry._meta.get_field(name) for name in ("amount_currency", "amount")]
)
_TAX_RATE_SQL = _tax_rate_sql()
_TAX_RATE_CONVERTERS = _converters([TaxRate._meta.get_field(name) for name in ("country", "rate")])


def account_credit_balance(*, account: Account) -> Money:
    """The account's credit: the sum of its ledger entries, in its currency.

    An entry in another currency is never added in (BILLING_RULES.md): it
    raises, so the balance is never a guess.
    """
    totals = dict(_fixed_rows(_CREDIT_TOTALS_SQL, [account.pk], _CREDIT_TOTALS_CONVERTERS))
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
        # standard_tax_rates(countries=[country])[country], its one row read directly.
        return dict(_fixed_rows(_TAX_RATE_SQL, [country.upper()], _TAX_RATE_CONVERTERS))[country]

    def __iter__(self) -> Iterator[str]:
        return iter(standard_tax_rates())

    def __len__(self) -> int:
        return len(standard_tax_rates())


def accounts_for_user(*, user) -> QuerySet[Account]:
    return Account.objects.filter(memberships__user=user).distinct()


def _billing_admin_accounts_sql() -> str:
    table, pk = _table_column(Account, "id")
    memberships, account = _table_column(Membership, "account")
    _, user = _table_column(Membership, "user")
    _, role = _table_column(Membership, "role")
    _, name = _table_column(Account, "name")
    columns = ", ".join(
        f"{table}.{connection.ops.quote_name(f.column)}" for f in Account._meta.concrete_fields
    )
    # No DISTINCT needed: a user has at most one membership per account (unique).
    return (
        f"SELECT {columns} FROM {table} INNER JOIN {memberships}"  # noqa: S608
        f" ON {memberships}.{account} = {table}.{pk}"
        f" WHERE {memberships}.{user} = %s AND {memberships}.{role} = %s ORDER BY {table}.{name}"
    )


_BILLING_ADMIN_ACCOUNTS_SQL = _billing_admin_accounts_sql()
_ACCOUNT_ATTNAMES = [f.attname for f in Account._meta.concrete_fields]
_ACCOUNT_CONVERTERS = _converters(Account._meta.concrete_fields)


def billing_admin_accounts_by_name(*, user) -> list[Account]:
    """The accounts ``user`` is billing admin of, by name: one fixed query."""
    rows = _fixed_rows(
        _BILLING_ADMIN_ACCOUNTS_SQL,
        [user.pk, Membership.Role.BILLING_ADMIN.value],
        _ACCOUNT_CONVERTERS,
    )
    return [Account.from_db(connection.alias, _ACCOUNT_ATTNAMES, row) for row in rows]


def _assigned_seats_sql() -> str:
    """The users assigned to the row's subscription, a correlated COUNT(*) (never NULL).

    The same count as ``Count("assignments")`` without its join and GROUP BY
    over every selected column.
    """
    assignments, subscription = _table_column(SeatAssignment, "subscription")
    table, pk = _table_column(Subscription, "id")
    return (
        f"SELECT COUNT(*) FROM {assignments} WHERE {assignments}.{subscription}"  # noqa: S608
        f" = {table}.{pk}"
    )


_ASSIGNED_SEATS_SQL = _assigned_seats_sql()


def account_subscriptions(*, account: Account) -> QuerySet[Subscription]:
    """The account's subscriptions with plan, product and assigned-seat count, one query."""
    return (
        Subscription.objects.filter(account=account)
        .exclude(status=Subscription.Status.CANCELED)
        .select_related("plan__product")
        .annotate(assigned_seats=RawSQL(_ASSIGNED_SEATS_SQL, ()))  # noqa: S611 (fixed text)
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
