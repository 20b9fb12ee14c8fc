"""Fixed statements: prepared once per database session on PostgreSQL, plain elsewhere."""

from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from checkout.models import Cart, CartLine
from checkout.selectors import cart_lines
from subscriptions.models import Account, Subscription
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
    # A rollback keeps what was prepared inside it.
    statement = FixedStatement('SELECT "id" FROM "subscriptions_account" WHERE "id" = %s', [None])
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        statement.rows([user.pk])
        raise ZeroDivisionError
    before = prepared_here()
    assert statement.name in before
    assert statement.rows([0]) == []  # executed, not prepared again (that would fail)
    # A new connection has nothing prepared, and prepares what it uses.
    connection.close()
    assert prepared_here() == set()  # (connects again)
    assert [a.pk for a in billing_admin_accounts_by_name(user=user)]
    assert len(prepared_here()) == 1 and prepared_here() < before


@pytest.fixture
def probe_table(transactional_db):
    """A table of the test's own whose column type a 'migration' changes."""
    with connection.cursor() as cursor:
        cursor.execute('CREATE TABLE "fixed_probe" ("id" integer PRIMARY KEY, "label" varchar(5))')
        cursor.execute("""INSERT INTO "fixed_probe" VALUES (1, 'short')""")
    yield FixedStatement('SELECT "label" FROM "fixed_probe" WHERE "id" = %s', [None])
    with connection.cursor() as cursor:
        cursor.execute('DROP TABLE "fixed_probe"')


def widen_the_column() -> None:
    with connection.cursor() as cursor:
        cursor.execute('ALTER TABLE "fixed_probe" ALTER COLUMN "label" TYPE varchar(50)')
        cursor.execute("""UPDATE "fixed_probe" SET "label" = 'much longer now'""")


def test_a_column_type_changed_by_a_migration_is_prepared_again(probe_table):
    assert probe_table.rows([1]) == [("short",)]
    widen_the_column()  # PostgreSQL now refuses the prepared statement's cached plan
    assert probe_table.rows([1]) == [("much longer now",)]
    assert probe_table.rows([1]) == [("much longer now",)]


def test_inside_a_transaction_the_request_fails_and_its_connection_is_renewed(probe_table):
    assert probe_table.rows([1]) == [("short",)]
    widen_the_column()
    with pytest.raises(DatabaseError), transaction.atomic():
        probe_table.rows([1])
    # The end of the request (request_finished) closes the connection; the next works.
    connection.close_if_unusable_or_obsolete()
    assert connection.connection is None
    assert probe_table.rows([1]) == [("much longer now",)]


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
    """Place order's read of the cart locks its subscriptions (FOR UPDATE OF them)."""
    subscription = SubscriptionFactory()
    cart = Cart.objects.create(account=subscription.account)
    CartLine.objects.create(cart=cart, subscription=subscription, new_seats=3)
    with pytest.raises(TransactionManagementError):
        cart_lines(account=subscription.account, lock=True)
    refused = []

    def try_to_lock_it():
        try:
            with transaction.atomic():
                Subscription.objects.select_for_update(nowait=True).get(pk=subscription.pk)
        except DatabaseError:
            refused.append(True)
        finally:
            connection.close()

    with transaction.atomic():
        [line] = cart_lines(account=subscription.account, lock=True)
        assert (line.new_seats, line.subscription.plan.product.name) == (
            3,
            subscription.plan.product.name,
        )
        other = threading.Thread(target=try_to_lock_it)
        other.start()
        other.join()
    assert refused == [True]


def test_a_subscription_id_out_of_range_is_not_found_rather_than_an_error():
    subscription = SubscriptionFactory()
    account = Account.objects.get(pk=subscription.account_id)
    found = account_subscription(account=account, pk=subscription.pk)
    assert found == subscription and found.plan.product.name
    assert account_subscription(account=account, pk=10**20) is None
    assert account_subscription(account=account, pk=-1) is None
