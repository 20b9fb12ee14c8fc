"""Fixed statements: prepared once per database session on PostgreSQL, plain elsewhere."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from checkout.selectors import cart_lines
from subscriptions.models import Account
from subscriptions.selectors import account_subscription, billing_admin_accounts_by_name
from subscriptions.statements import FixedStatement
from tests.factories import MembershipFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


def prepared_here() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cursor.fetchall()}


def test_a_statement_is_prepared_once_then_only_executed():
    account = MembershipFactory(role="billing_admin").account
    statement = FixedStatement('SELECT "name" FROM "subscriptions_account" WHERE "id" = %s', [None])
    assert statement.name not in prepared_here()

    with CaptureQueriesContext(connection) as first:
        assert statement.rows([account.pk]) == [(account.name,)]
    with CaptureQueriesContext(connection) as again:
        assert statement.rows([account.pk]) == [(account.name,)]

    assert statement.name in prepared_here()
    # One query each time in the log: the EXECUTE (preparing is part of the first).
    assert [q["sql"] for q in first] == [f"EXECUTE {statement.name}({account.pk})"]
    assert [q["sql"] for q in again] == [f"EXECUTE {statement.name}({account.pk})"]


def test_a_new_database_session_prepares_again(transactional_db):
    user = MembershipFactory(role="billing_admin").user
    assert [a.pk for a in billing_admin_accounts_by_name(user=user)]
    before = prepared_here()
    # A rollback keeps what was prepared; a new connection has nothing prepared.
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        billing_admin_accounts_by_name(user=user)
        raise ZeroDivisionError
    assert prepared_here() == before
    connection.close()
    assert prepared_here() == set()  # (connects again)
    assert [a.pk for a in billing_admin_accounts_by_name(user=user)]
    assert len(prepared_here()) == 1 and prepared_here() <= before


@pytest.mark.parametrize("turned_off_by", ["CONN_MAX_AGE=0", "PREPARED_STATEMENTS=0"])
def test_nothing_is_prepared_without_kept_connections_or_when_turned_off(
    turned_off_by, monkeypatch, settings
):
    """CONN_MAX_AGE=0: a prepared statement would not outlive the request. Behind a
    pooler that shares sessions, the setting turns them off."""
    if turned_off_by == "CONN_MAX_AGE=0":
        monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    else:
        settings.PREPARED_STATEMENTS = False
    account = MembershipFactory(role="billing_admin").account
    statement = FixedStatement(
        'SELECT "country" FROM "subscriptions_account" WHERE "id" = %s', [None]
    )
    with CaptureQueriesContext(connection) as captured:
        assert statement.rows([account.pk]) == [(account.country,)]
    assert [q["sql"] for q in captured] == [statement.sql % account.pk]
    assert statement.name not in prepared_here()


def test_a_wrong_number_of_parameters_is_refused():
    statement = FixedStatement('SELECT 1 FROM "subscriptions_account" WHERE "id" = %s', [None])
    with pytest.raises(ValueError, match="1 parameter"):
        statement.rows([])


def test_the_cart_is_locked_only_inside_a_transaction(transactional_db):
    account = MembershipFactory().account
    with pytest.raises(TransactionManagementError):
        cart_lines(account=account, lock=True)
    with transaction.atomic():
        assert cart_lines(account=account, lock=True) == []


def test_a_subscription_id_out_of_range_is_not_found_rather_than_an_error():
    subscription = SubscriptionFactory()
    account = Account.objects.get(pk=subscription.account_id)
    found = account_subscription(account=account, pk=subscription.pk)
    assert found == subscription and found.plan.product.name
    assert account_subscription(account=account, pk=10**20) is None
    assert account_subscription(account=account, pk=-1) is None
