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
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from functools import cache

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Field, Model


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

    def rows(self, params: list) -> list[tuple]:
        if len(params) != self.parameters:
            raise ValueError(f"{self.parameters} parameter(s) expected, not {len(params)}")
        with connection.cursor() as cursor:
            if _prepares():
                self._execute_prepared(cursor, params)
            else:
                cursor.execute(self.sql, params)
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
                    values[index] = function(values[index], column, connection)
            converted.append(tuple(values))
        return converted

    def _execute_prepared(self, cursor, params: list) -> None:
        prepared = _prepared_on_this_connection()
        try:
            if self.name not in prepared:
                self._prepare(prepared)
            cursor.execute(self._execute_sql, params)
        except DatabaseError as error:
            if getattr(error.__cause__, "pgcode", None) not in _SESSION_NOT_AS_THOUGHT:
                raise
            # The session's prepared statements are not what this process thinks: a
            # migration changed a selected column's type, or a pooler handed over
            # another session. Start again from none.
            prepared.clear()
            if connection.in_atomic_block:
                # The transaction is aborted: this request fails, and the connection is
                # closed at its end, so that the next one starts afresh.
                connection.close_at = time.monotonic()
                raise
            with connection.wrap_database_errors, connection.connection.cursor() as raw:
                raw.execute("DEALLOCATE ALL")
            self._prepare(prepared)
            cursor.execute(self._execute_sql, params)

    def _prepare(self, prepared: set[str]) -> None:
        # Not through Django's cursor: preparing is part of the execute that follows,
        # not a query of its own in the query log or count.
        with connection.wrap_database_errors, connection.connection.cursor() as raw:
            raw.execute(self._prepare_sql)
        prepared.add(self.name)


# cached plan must not change result type; prepared statement does not exist / already exists
_SESSION_NOT_AS_THOUGHT = frozenset({"0A000", "26000", "42P05"})


def _prepares() -> bool:
    return (
        connection.vendor == "postgresql"
        and settings.PREPARED_STATEMENTS
        and connection.settings_dict.get("CONN_MAX_AGE") != 0
    )


def _prepared_on_this_connection() -> set[str]:
    """The statements prepared on the current database session (a new session has none)."""
    connection.ensure_connection()
    session = connection.connection
    known = getattr(connection, "_fixed_statements_prepared", None)
    if known is None or known[0] is not session:
        known = (session, set())
        connection._fixed_statements_prepared = known
    return known[1]
