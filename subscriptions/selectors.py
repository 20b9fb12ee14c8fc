"""Reads: load what the billing rules need, then let the pure functions compute."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from moneyed import Money

from subscriptions import clock
from subscriptions.models import (
    Account,
    CreditLedgerEntry,
    Membership,
    Plan,
    Product,
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
from subscriptions.statements import (
    FixedStatement,
    attnames,
    columns_sql,
    instance_from,
    table_column,
)
from subscriptions.vat import TaxTreatment, resolve_tax_treatment

# The statements below are written once from the models' own table and column
# names (subscriptions/statements.py): no value in them comes from a request.


def _credit_totals_sql() -> str:
    ledger, account = table_column(CreditLedgerEntry, "account")
    _, amount = table_column(CreditLedgerEntry, "amount")
    _, currency = table_column(CreditLedgerEntry, "amount_currency")
    return (
        f"SELECT {currency}, SUM({amount}) FROM {ledger}"  # noqa: S608 (the models' own names)
        f" WHERE {account} = %s GROUP BY {currency}"
    )


def _tax_rate_sql() -> str:
    table, country = table_column(TaxRate, "country")
    _, rate = table_column(TaxRate, "rate")
    return f"SELECT {country}, {rate} FROM {table} WHERE {country} = %s"  # noqa: S608


_CREDIT_TOTALS = FixedStatement(
    _credit_totals_sql(),
    [CreditLedgerEntry._meta.get_field(name) for name in ("amount_currency", "amount")],
)
_TAX_RATE = FixedStatement(
    _tax_rate_sql(), [TaxRate._meta.get_field(name) for name in ("country", "rate")]
)


def account_credit_balance(*, account: Account) -> Money:
    """The account's credit: the sum of its ledger entries, in its currency.

    An entry in another currency is never added in (docs/billing-rules.md): it
    raises, so the balance is never a guess.
    """
    totals = dict(_CREDIT_TOTALS.rows([account.pk]))
    foreign = sorted(set(totals) - {account.currency})
    if foreign:
        raise CurrencyMismatch(
            f"{account} keeps its credit in {account.currency}, but its ledger holds "
            f"entries in {', '.join(foreign)}."
        )
    return round_money(totals.get(account.currency) or Decimal("0"), account.currency)


def _quote_basis_sql() -> str:
    rates, country = table_column(TaxRate, "country")
    _, rate = table_column(TaxRate, "rate")
    ledger, account = table_column(CreditLedgerEntry, "account")
    _, amount = table_column(CreditLedgerEntry, "amount")
    _, currency = table_column(CreditLedgerEntry, "amount_currency")
    return (
        f"SELECT (SELECT {rates}.{rate} FROM {rates} WHERE {rates}.{country} = %s),"  # noqa: S608
        f" (SELECT SUM({ledger}.{amount}) FROM {ledger}"
        f" WHERE {ledger}.{account} = %s AND {ledger}.{currency} = %s),"
        f" (SELECT MIN({ledger}.{currency}) FROM {ledger}"
        f" WHERE {ledger}.{account} = %s AND {ledger}.{currency} <> %s)"
    )


_QUOTE_BASIS = FixedStatement(
    _quote_basis_sql(),
    [TaxRate._meta.get_field("rate"), CreditLedgerEntry._meta.get_field("amount"), None],
)


class QuoteBasis:
    """What a quote needs of the account besides its cart: its tax treatment and its
    credit, read in one statement (``account_tax_treatment`` and
    ``account_credit_balance`` read them one by one; the answers are the same)."""

    def __init__(self, account: Account) -> None:
        self.account = account
        [row] = _QUOTE_BASIS.rows(
            [account.country.upper(), account.pk, account.currency, account.pk, account.currency]
        )
        self._rate, self._credit, self._foreign_currency = row

    def tax_treatment(self) -> TaxTreatment:
        """As ``account_tax_treatment`` (``MissingTaxRate`` when the rate is needed and
        not recorded)."""
        country = self.account.country.upper()
        return account_tax_treatment(
            account=self.account,
            standard_rates={} if self._rate is None else {country: self._rate},
        )

    def credit(self) -> Money:
        """As ``account_credit_balance`` (``CurrencyMismatch`` for credit in another currency)."""
        if self._foreign_currency is not None:
            return account_credit_balance(account=self.account)  # raises, naming them all
        return round_money(self._credit or Decimal("0"), self.account.currency)


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
        # standard_tax_rates(countries=[country])[country], its one row read directly.
        return dict(_TAX_RATE.rows([country.upper()]))[country]

    def __iter__(self) -> Iterator[str]:
        return iter(standard_tax_rates())

    def __len__(self) -> int:
        return len(standard_tax_rates())


def accounts_for_user(*, user) -> QuerySet[Account]:
    return Account.objects.filter(memberships__user=user).distinct()


def _billing_admin_accounts_sql() -> str:
    table, pk = table_column(Account, "id")
    memberships, account = table_column(Membership, "account")
    _, user = table_column(Membership, "user")
    _, role = table_column(Membership, "role")
    _, name = table_column(Account, "name")
    # No DISTINCT needed: a user has at most one membership per account (unique).
    return (
        f"SELECT {columns_sql(Account)} FROM {table} INNER JOIN {memberships}"  # noqa: S608
        f" ON {memberships}.{account} = {table}.{pk}"
        f" WHERE {memberships}.{user} = %s AND {memberships}.{role} = %s ORDER BY {table}.{name}"
    )


_BILLING_ADMIN_ACCOUNTS = FixedStatement(
    _billing_admin_accounts_sql(), list(Account._meta.concrete_fields)
)
_ACCOUNT_NAMES = attnames(Account)


def billing_admin_accounts_by_name(*, user) -> list[Account]:
    """The accounts ``user`` is billing admin of, by name: one fixed query."""
    rows = _BILLING_ADMIN_ACCOUNTS.rows([user.pk, Membership.Role.BILLING_ADMIN.value])
    return [instance_from(Account, iter(row), _ACCOUNT_NAMES) for row in rows]


def _assigned_seats_sql() -> str:
    """The users assigned to the row's subscription, a correlated COUNT(*) (never NULL).

    The same count as ``Count("assignments")`` without its join and GROUP BY
    over every selected column.
    """
    assignments, subscription = table_column(SeatAssignment, "subscription")
    table, pk = table_column(Subscription, "id")
    return (
        f"SELECT COUNT(*) FROM {assignments} WHERE {assignments}.{subscription}"  # noqa: S608
        f" = {table}.{pk}"
    )


ASSIGNED_SEATS_SQL = _assigned_seats_sql()


def _plan_and_product_joins_sql() -> str:
    subscriptions, subscription_plan = table_column(Subscription, "plan")
    plans, plan_pk = table_column(Plan, "id")
    _, plan_product = table_column(Plan, "product")
    products, product_pk = table_column(Product, "id")
    return (
        f" INNER JOIN {plans} ON {subscriptions}.{subscription_plan} = {plans}.{plan_pk}"
        f" INNER JOIN {products} ON {plans}.{plan_product} = {products}.{product_pk}"
    )


# A subscription, its plan and its product as ``subscription_with_plan`` reads them (these
# columns, in this order), and the joins from the subscriptions table they need.
SUBSCRIPTION_WITH_PLAN_COLUMNS = (
    f"{columns_sql(Subscription)}, {columns_sql(Plan)}, {columns_sql(Product)}"
)
PLAN_AND_PRODUCT_JOINS = _plan_and_product_joins_sql()


def _account_subscriptions_sql(*, one: bool) -> str:
    """The account's subscriptions but canceled ones, with plan, product and the number of
    users assigned, by product name and interval; ``one``: only the one with an id."""
    subscriptions, account = table_column(Subscription, "account")
    _, pk = table_column(Subscription, "id")
    _, status = table_column(Subscription, "status")
    plans, interval = table_column(Plan, "interval")
    products, name = table_column(Product, "name")
    # The models' own names; every value is a parameter.
    return (
        f"SELECT {SUBSCRIPTION_WITH_PLAN_COLUMNS}, ({ASSIGNED_SEATS_SQL})"  # noqa: S608
        f" FROM {subscriptions}{PLAN_AND_PRODUCT_JOINS}"
        f" WHERE {subscriptions}.{account} = %s AND NOT ({subscriptions}.{status} = %s)"
        + (f" AND {subscriptions}.{pk} = %s" if one else "")
        + f" ORDER BY {products}.{name} ASC, {plans}.{interval} ASC"
    )


# A subscription, its plan and its product: the columns ``subscription_with_plan`` reads.
SUBSCRIPTION_WITH_PLAN_FIELDS = [
    field for model in (Subscription, Plan, Product) for field in model._meta.concrete_fields
]
_ACCOUNT_SUBSCRIPTIONS_FIELDS = [*SUBSCRIPTION_WITH_PLAN_FIELDS, None]  # and the assigned count
_ACCOUNT_SUBSCRIPTIONS = FixedStatement(
    _account_subscriptions_sql(one=False), _ACCOUNT_SUBSCRIPTIONS_FIELDS
)
_ACCOUNT_SUBSCRIPTION = FixedStatement(
    _account_subscriptions_sql(one=True), _ACCOUNT_SUBSCRIPTIONS_FIELDS
)
_SUBSCRIPTION_NAMES, _PLAN_NAMES, _PRODUCT_NAMES = (
    attnames(Subscription),
    attnames(Plan),
    attnames(Product),
)
_ID_RANGE = connection.ops.integer_field_range("BigAutoField")


def subscription_with_plan(values: Iterator, plans: dict, products: dict) -> Subscription:
    """A fixed statement's subscription, plan and product (the next values of its row),
    linked as ``select_related("plan__product")`` links them; one object per plan and
    product (``plans`` and ``products`` keep them by id)."""
    subscription = instance_from(Subscription, values, _SUBSCRIPTION_NAMES)
    plan = instance_from(Plan, values, _PLAN_NAMES)
    product = instance_from(Product, values, _PRODUCT_NAMES)
    plan = plans.setdefault(plan.pk, plan)
    product = products.setdefault(product.pk, product)
    Plan.product.field.set_cached_value(plan, product)
    Subscription.plan.field.set_cached_value(subscription, plan)
    return subscription


def _with_assigned_seats(rows: list[tuple]) -> list[Subscription]:
    plans, products, subscriptions = {}, {}, []
    for row in rows:
        values = iter(row)
        subscription = subscription_with_plan(values, plans, products)
        subscription.assigned_seats = next(values)
        subscriptions.append(subscription)
    return subscriptions


def account_subscriptions(*, account: Account) -> list[Subscription]:
    """The account's subscriptions (not canceled) with plan, product and assigned-seat
    count, by product name and interval: one fixed query."""
    return _with_assigned_seats(
        _ACCOUNT_SUBSCRIPTIONS.rows([account.pk, Subscription.Status.CANCELED.value])
    )


def account_subscription(*, account: Account, pk: int) -> Subscription | None:
    """One of them by id (None if the account has no such subscription, or it is canceled)."""
    if not _ID_RANGE[0] <= pk <= _ID_RANGE[1]:
        return None
    rows = _ACCOUNT_SUBSCRIPTION.rows([account.pk, Subscription.Status.CANCELED.value, pk])
    return _with_assigned_seats(rows)[0] if rows else None


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
