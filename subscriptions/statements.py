"""Fixed statements: SQL written once from the models' own names, prepared once per connection.

The portal's hottest reads (every page's accounts, the cart of the review
page and of Place order, the credit balance, a tax rate) have the same text on
every request; only their parameters change. Compiling them through the ORM
each time cost about a millisecond of a page's CPU, and PostgreSQL planned
them each time too: the cart's five-table join took longer to plan than to
run. So their SQL is built once at import, from the models' metadata (no
value in it comes from a request; values are parameters), and on PostgreSQL
with connections kept between requests (``CONN_MAX_AGE`` other than 0) each
is prepared once per connection (``PREPARE``) and then only executed.

Prepared statements live as long as the connection and survive a rollback.
A migration that changes the type of a selected column makes PostgreSQL
refuse the prepared statement: outside a transaction it is prepared again at
once; inside one the request fails and its connection is closed at the end,
so the next request starts afresh.
A connection pooler that hands one client's statements to another (PgBouncer
in transaction mode) does not keep them: set ``PREPARED_STATEMENTS=0`` there.

Place order also writes through fixed statements (``instance_insert``,
``objects_insert``, ``instance_update``), and sends the writes whose results
nobody reads in one round trip (``writes_run``).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.db.models import Field, Model
from djmoney.utils import MONEY_CLASSES


def table_column(model: type[Model], field: str) -> tuple[str, str]:
    """A model's quoted table name and the quoted column of one of its fields."""
    quote = connection.ops.quote_name
    return quote(model._meta.db_table), quote(model._meta.get_field(field).column)


def columns_sql(model: type[Model]) -> str:
    """Every concrete column of ``model``, table-qualified, in the order of its fields."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    return ", ".join(f"{table}.{quote(field.column)}" for field in model._meta.concrete_fields)


def converters(fields: list[Field | None]) -> list[list]:
    """The converters the ORM applies to each field's column (none on PostgreSQL); none
    for a column that is not a field's (``None``: a count, say)."""
    result = []
    for model_field in fields:
        if model_field is None:
            result.append([])
            continue
        column = model_field.get_col(model_field.model._meta.db_table)
        functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        result.append([(function, column) for function in functions])
    return result


def attnames(model: type[Model]) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


_CALLED = object()  # a callable default: called for each new object


@cache
def _columns_and_defaults(model: type[Model]) -> list[tuple[str, Field, object]]:
    return [
        (
            field.attname,
            field,
            _CALLED if field.has_default() and callable(field.default) else field.get_default(),
        )
        for field in model._meta.concrete_fields
    ]


def instance_new(model: type[Model], /, **values) -> Model:
    """A new, unsaved ``model`` object from its columns' values by attribute name
    (``account_id``, not ``account``); the others get their defaults.

    Built from positional arguments, as ``from_db`` builds a row's object: a
    third of the time of keyword arguments, which counts where a run makes a
    hundred thousand of them. Related objects are not cached: set them if needed.
    """
    row = []
    for attname, field, default in _columns_and_defaults(model):
        if attname in values:
            row.append(values.pop(attname))
        else:
            row.append(field.get_default() if default is _CALLED else default)
    if values:
        raise TypeError(f"not columns of {model.__name__}: {', '.join(sorted(values))}")
    return model(*row)


def instance_from(model: type[Model], values: Iterator, names: list[str]) -> Model:
    """The ``model`` object of the next ``len(names)`` values of a fixed statement's row,
    as the ORM's ``select_related`` builds it (``names`` is ``attnames(model)``)."""
    return model.from_db(connection.alias, names, [next(values) for _ in names])


@dataclass(frozen=True)
class Write:
    """One statement whose result nobody reads: its SQL (``%s`` for each parameter)
    and its parameters; from a fixed statement, which is then sent prepared."""

    sql: str
    params: list
    statement: FixedStatement | None = None


class FixedStatement:
    """One fixed SELECT; ``rows`` gives each value as the ORM would have read it.

    ``fields`` are the model fields (or ``None`` for a plain value) of the
    selected columns, in order: their database converters are applied.
    """

    def __init__(self, sql: str, fields: list[Field | None]) -> None:
        self.sql = sql
        self.name = "fixed_" + hashlib.sha256(sql.encode()).hexdigest()[:16]
        self.parameters = sql.count("%s")
        numbers = iter(range(1, self.parameters + 1))
        self._prepare_sql = f"PREPARE {self.name} AS " + re.sub(
            "%s", lambda _: f"${next(numbers)}", sql
        )
        self._execute_sql = (
            f"EXECUTE {self.name}({', '.join(['%s'] * self.parameters)})"
            if self.parameters
            else f"EXECUTE {self.name}"
        )
        self._fields = fields
        self._converters: list[list] | None = None

    def _check(self, params: list) -> None:
        if len(params) != self.parameters:
            raise ValueError(f"{self.parameters} parameter(s) expected, not {len(params)}")

    def _run(self, db, cursor, params: list) -> None:
        self._check(params)
        if _prepares(db):
            self._execute_prepared(db, cursor, params)
        else:
            cursor.execute(self.sql, params)

    def rows(self, params: list) -> list[tuple]:
        db = _db()
        with db.cursor() as cursor:
            self._run(db, cursor, params)
            rows = cursor.fetchall()
        if self._converters is None:
            self._converters = converters(self._fields)
        if not any(self._converters):
            return rows
        converted = []
        for row in rows:
            values = list(row)
            for index, functions in enumerate(self._converters):
                for function, column in functions:
                    values[index] = function(values[index], column, db)
            converted.append(tuple(values))
        return converted

    def execute(self, params: list) -> int:
        """Run a fixed statement that returns no rows (an UPDATE or DELETE): rows changed."""
        db = _db()
        with db.cursor() as cursor:
            self._run(db, cursor, params)
            return cursor.rowcount

    def write(self, params: list) -> Write:
        """This statement with ``params``, to be sent with others by ``writes_run``."""
        self._check(params)
        return Write(self.sql, list(params), self)

    def _execute_prepared(self, db, cursor, params: list) -> None:
        prepared = _prepared_on_this_connection(db)
        try:
            if self.name not in prepared:
                self._prepare(db, prepared)
            cursor.execute(self._execute_sql, params)
        except DatabaseError as error:
            if not _prepared_forgotten(db, prepared, error):
                raise
            self._prepare(db, prepared)
            cursor.execute(self._execute_sql, params)

    def _prepare(self, db, prepared: set[str]) -> None:
        # Not through Django's cursor: preparing is part of the execute that follows,
        # not a query of its own in the query log or count.
        with db.wrap_database_errors, db.connection.cursor() as raw:
            raw.execute(self._prepare_sql)
        prepared.add(self.name)


# cached plan must not change result type; prepared statement does not exist / already exists
_SESSION_NOT_AS_THOUGHT = frozenset({"0A000", "26000", "42P05"})


def _prepared_forgotten(db, prepared: set[str], error: DatabaseError) -> bool:
    """Whether, after ``error``, the statement may be tried once more from none prepared.

    When the session's prepared statements are not what this process thinks (a
    migration changed a selected column's type, a pooler handed over another
    session), they are forgotten on both sides. Inside a transaction, which the
    error aborted, the request fails and its connection is closed at its end, so
    that the next one starts afresh: False. Any other error: False, as it is.
    """
    if getattr(error.__cause__, "pgcode", None) not in _SESSION_NOT_AS_THOUGHT:
        return False
    prepared.clear()
    if db.in_atomic_block:
        db.close_at = time.monotonic()
        return False
    with db.wrap_database_errors, db.connection.cursor() as raw:
        raw.execute("DEALLOCATE ALL")
    return True


def _db():
    """This thread's connection itself: every attribute read through the ``connection``
    proxy looks the connection up again, which counted on Place order's CPU."""
    return connections[DEFAULT_DB_ALIAS]


def _prepares(db) -> bool:
    """Never: psycopg 3 prepares statements itself (``DATABASE_PREPARE_THRESHOLD``)."""
    return False


def _prepared_on_this_connection(db) -> set[str]:
    """The statements prepared on the current database session (a new session has none)."""
    db.ensure_connection()
    session = db.connection
    known = getattr(db, "_fixed_statements_prepared", None)
    if known is None or known[0] is not session:
        known = (session, set())
        db._fixed_statements_prepared = known
    return known[1]


# -- Writes ------------------------------------------------------------------------------
#
# Place order writes an order, its lines, its history and its payment on every
# request. Through the ORM each of those statements cost more CPU to build
# than to run; these write one object (or a list of one model's objects) with
# fixed statements, from the same field methods the ORM's save uses
# (``pre_save``, ``get_db_prep_save``), so what is stored is what the ORM
# would store (tests/subscriptions/test_statement_writes.py compares them).


# Values PostgreSQL's get_db_prep_save hands to the driver as they are (and aware datetimes).
PLAIN_TYPES = frozenset({str, int, Decimal, type(None)})


def _db_values(fields: list[Field], instance: Model, *, add: bool, db) -> list:
    """The fields' values as the ORM's save sends them (``auto_now`` and the like set first).

    On PostgreSQL a plain value skips ``get_db_prep_save``, which would return it
    unchanged (money: its amount); anything else (a choice, a UUID, a boolean)
    goes through it.
    """
    plain_as_is = db.vendor == "postgresql"
    values = []
    for field in fields:
        value = field.pre_save(instance, add)
        if plain_as_is and isinstance(value, MONEY_CLASSES):
            value = value.amount  # what djmoney's get_db_prep_save does first
        if plain_as_is and (
            type(value) in PLAIN_TYPES or (type(value) is datetime and value.tzinfo is not None)
        ):
            values.append(value)
        else:
            values.append(field.get_db_prep_save(value, db))
    return values


@cache
def _insert_statement(model: type[Model], *, returning: bool) -> tuple[FixedStatement, list]:
    """The INSERT of one new row, every column but the primary key a parameter."""
    quote = connection.ops.quote_name
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(quote(field.column) for field in fields)
    # Identifiers come from the model's metadata; every value is a parameter.
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns})"  # noqa: S608
        f" VALUES ({', '.join(['%s'] * len(fields))})"
    )
    if returning:
        sql += f" RETURNING {quote(model._meta.pk.column)}"
    return FixedStatement(sql, [None] if returning else []), fields


def instance_insert(instance: Model) -> Model:
    """Insert a new object, as ``save(force_insert=True)`` does, and set its primary key."""
    db = _db()
    if db.vendor != "postgresql":  # (RETURNING needs SQLite 3.35; Django 5.2 takes 3.31)
        instance.save(force_insert=True)
        return instance
    statement, fields = _insert_statement(type(instance), returning=True)
    instance.pk = statement.rows(_db_values(fields, instance, add=True, db=db))[0][0]
    instance._state.adding = False
    instance._state.db = db.alias
    return instance


def objects_insert(objects: list[Model]) -> list[Write]:
    """The INSERTs of new objects, as ``bulk_create`` would write them (their primary
    keys are not read back), for ``writes_run``: one fixed statement a row.

    For the few rows of an order a row's INSERT costs PostgreSQL about half of
    one INSERT of arrays (``unnest``), and ``writes_run`` sends them all at once.
    """
    db = _db()
    writes = []
    for obj in objects:
        statement, fields = _insert_statement(type(obj), returning=False)
        writes.append(statement.write(_db_values(fields, obj, add=True, db=db)))
        obj._state.adding = False
        obj._state.db = db.alias
    return writes


@cache
def _update_statement(model: type[Model], names: tuple[str, ...]) -> tuple[FixedStatement, list]:
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in names]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = (
        f"UPDATE {quote(model._meta.db_table)} SET {assignments}"  # noqa: S608
        f" WHERE {quote(model._meta.pk.column)} = %s"
    )
    return FixedStatement(sql, []), fields


def instance_update(instance: Model, names: list[str]) -> None:
    """Write ``names`` of a saved object, as ``save(update_fields=names)`` does
    (``auto_now`` fields among them are set to now; no row to update is an error)."""
    write = instance_update_write(instance, names)
    if not write.statement.execute(write.params):
        raise DatabaseError(f"{type(instance).__name__} {instance.pk} did not exist to update.")


def instance_update_write(instance: Model, names: list[str]) -> Write:
    """``instance_update`` for ``writes_run``, where nobody reads how many rows changed:
    for a row that cannot be gone (its transaction holds the lock that keeps it)."""
    statement, fields = _update_statement(type(instance), tuple(names))
    values = _db_values(fields, instance, add=False, db=_db())
    return statement.write([*values, instance.pk])


def writes_run(*writes: Write | None) -> int:
    """Run writes whose results nobody reads, in order; on PostgreSQL in one round trip.
    Returns the number of rows the last one changed.

    Each statement still runs on its own in the transaction, and the first
    that fails raises (the transaction is then aborted, as with one statement).
    Sending them together saves PostgreSQL and this process the work of a
    request and answer for each, which was most of what small writes cost.
    """
    writes = [write for write in writes if write is not None]
    if not writes:
        return 0
    db = _db()
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            for write in writes:
                cursor.execute(write.sql, write.params)
            return cursor.rowcount
    prepares = _prepares(db)
    prepared = _prepared_on_this_connection(db) if prepares else set()

    def send(cursor) -> int:
        parts, params = [], []
        for write in writes:
            if prepares and write.statement is not None:
                if write.statement.name not in prepared:
                    write.statement._prepare(db, prepared)
                parts.append(write.statement._execute_sql)
            else:
                parts.append(write.sql)
            params += write.params
        cursor.execute("; ".join(parts), params)
        while cursor.nextset():  # psycopg 3 stands on the first statement's result
            pass
        return cursor.rowcount  # the last statement's

    # Several statements in one query need client-side binding: with server-side
    # binding (settings.py) PostgreSQL takes one statement per query.
    import psycopg

    db.ensure_connection()
    raw = psycopg.ClientCursor(db.connection)
    with db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw) as cursor:
        try:
            return send(cursor)
        except DatabaseError as error:
            if not _prepared_forgotten(db, prepared, error):
                raise
            return send(cursor)
