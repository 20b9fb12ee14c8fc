"""Writing many rows in one statement, cheaper than Django's ``bulk_update`` and
``bulk_create``: a renewal run's orders, lines, payments and subscriptions
(thousands a batch). Place order's few rows go through ``statements.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum

from django.db import connection
from django.db.models import F, Model
from moneyed import Money

from subscriptions.statements import PLAIN_TYPES


def rows_update(
    model: type[Model], objects: list, fields: list[str], *, increment: Iterable[str] = ()
) -> None:
    """Write ``fields`` of ``objects`` (and add 1 to each ``increment`` column) in one statement.

    Django's ``bulk_update`` builds a CASE expression per row and field, which
    costs seconds per thousand rows in Python; on PostgreSQL this is one
    ``UPDATE … FROM (VALUES …)`` instead. Other databases (SQLite for
    ``make run``) get ``bulk_update``. The in-memory ``increment`` fields hold
    the new values afterwards.
    """
    if not objects:
        return
    increment = list(increment)
    if connection.vendor != "postgresql":
        before = [{name: getattr(obj, name) for name in increment} for obj in objects]
        for obj in objects:
            for name in increment:
                setattr(obj, name, F(name) + 1)
        model.objects.bulk_update(objects, [*fields, *increment])
        for obj, values in zip(objects, before, strict=True):
            for name, value in values.items():
                setattr(obj, name, value + 1)
        return
    meta = model._meta
    quote = connection.ops.quote_name
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    values = []
    for obj in objects:
        row = []
        for column in columns:
            value = getattr(obj, column.attname)
            if isinstance(value, Enum) and type(value.value) in PLAIN_TYPES:
                value = value.value  # a choice (Status.ACTIVE): its value, as the field would
            # Plain values are what the field would prepare anyway; the rest (money and the
            # like) go through the field.
            plain = type(value) in PLAIN_TYPES or (
                type(value) is datetime and value.tzinfo is not None
            )
            row.append(value if plain else column.get_db_prep_save(value, connection))
        values.append(row)
    # A value that is the same for every row is set once, not sent once a row.
    same = {
        index
        for index in range(1, len(columns))
        if all(row[index] == values[0][index] for row in values)
        and len({type(row[index]) for row in values}) == 1
    }
    differ = [index for index in range(len(columns)) if index not in same]
    table = quote(meta.db_table)
    params = []
    assignments = []
    for index in sorted(same):
        column = columns[index]
        assignments.append(f"{quote(column.column)} = %s::{column.db_type(connection)}")
        params.append(values[0][index])
    assignments += [
        f"{quote(columns[i].column)} = v.{quote(columns[i].column)}" for i in differ[1:]
    ]
    assignments += [f"{quote(name)} = {table}.{quote(name)} + 1" for name in increment]
    first_row = "(" + ", ".join(f"%s::{columns[i].db_type(connection)}" for i in differ) + ")"
    other_row = "(" + ", ".join(["%s"] * len(differ)) + ")"
    for row in values:
        params += [row[i] for i in differ]
    names = ", ".join(quote(columns[i].column) for i in differ)
    rows_sql = ", ".join([first_row] + [other_row] * (len(values) - 1))
    # Identifiers come from the model's metadata; every value is a query parameter.
    sql = (
        f"UPDATE {table} SET {', '.join(assignments)} "  # noqa: S608
        f"FROM (VALUES {rows_sql}) AS v ({names}) "
        f"WHERE {table}.{quote(meta.pk.column)} = v.{quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    for obj in objects:
        for name in increment:
            setattr(obj, name, getattr(obj, name) + 1)


def money_columns(**amounts: Money) -> dict[str, object]:
    """Money fields as their two columns (amount and currency), for ``rows_insert``."""
    columns: dict[str, object] = {}
    for name, money in amounts.items():
        columns[name] = money.amount
        columns[f"{name}_currency"] = money.currency.code
    return columns


def rows_insert(model: type[Model], common: dict, rows: list[dict]) -> list[int]:
    """Insert ``rows`` in one statement (per database batch) and return their ids in order.

    ``common`` holds what every row shares, as the model takes it; it and the
    model's defaults are prepared once by the model's own fields. Each row gives
    the columns that differ, by attribute name (``account_id``, ``total`` and
    ``total_currency``), already in the database's terms: str, int, Decimal,
    aware datetime or None. ``bulk_create`` builds a model instance and prepares
    every field of every row, which costs more than the insert itself at a
    renewal run's scale. A NOT NULL column that neither ``common``, a row nor
    a default gives is refused here, before anything is written.
    """
    if not rows:
        return []
    varying = list(rows[0])
    template = model(**common)
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    by_attname = {field.attname: field for field in fields}
    if unknown := set(varying) - set(by_attname):
        raise ValueError(f"{model.__name__} has no column(s) {sorted(unknown)}")
    shared = []
    for column in fields:
        if column.attname in varying:
            continue
        value = column.pre_save(template, add=True)
        if value is None and not column.null:
            raise ValueError(f"{model.__name__}.{column.attname} is not given")
        shared.append((column, column.get_db_prep_save(value, connection)))
    size = connection.ops.bulk_batch_size(fields, rows) or len(rows)
    ids: list[int] = []
    with connection.cursor() as cursor:
        for first in range(0, len(rows), size):
            chunk = rows[first : first + size]
            if any(len(row) != len(varying) for row in chunk):
                raise ValueError(f"every {model.__name__} row must give the same columns")
            sql, params = insert_sql(model, [by_attname[name] for name in varying], shared, chunk)
            cursor.execute(sql, params)
            ids += [row[0] for row in cursor.fetchall()]
    return ids


def insert_sql(model: type[Model], varying: list, shared: list, rows: list[dict]) -> tuple:
    """The INSERT … RETURNING id of ``rows``: ``varying`` fields from each row, ``shared``
    (field, value) pairs the same in every row.

    On PostgreSQL a value that is the same in every row is sent once, not once a row
    (a batch's currencies, say): building and planning a statement with a parameter
    per value costs more than the insert. Its rows are read in the order given, so
    the ids come back in that order.
    """
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = quote(model._meta.pk.column)
    names = [field.attname for field in varying]
    if connection.vendor != "postgresql":
        columns = [quote(field.column) for field in varying + [f for f, _ in shared]]
        row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
        params = []
        for row in rows:
            params += [row[name] for name in names] + [value for _, value in shared]
        # Identifiers come from the model's metadata; every value is a query parameter.
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
            f"VALUES {', '.join([row_sql] * len(rows))} RETURNING {pk}"
        )
        return sql, params
    same = [
        (field, rows[0][field.attname])
        for field in varying
        if all(row[field.attname] == rows[0][field.attname] for row in rows)
        and len({type(row[field.attname]) for row in rows}) == 1
    ]
    differ = [field for field in varying if field not in {f for f, _ in same}] or varying[:1]
    same = [(field, value) for field, value in same if field not in differ] + shared
    aliases = [f"c{index}" for index in range(len(differ))]
    first_row = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in differ) + ")"
    other_row = "(" + ", ".join(["%s"] * len(differ)) + ")"
    params = [value for _, value in same]
    for row in rows:
        params += [row[field.attname] for field in differ]
    columns = [quote(field.column) for field in differ] + [quote(f.column) for f, _ in same]
    selected = [f"v.{alias}" for alias in aliases] + [
        f"%s::{field.db_type(connection)}" for field, _ in same
    ]
    # Identifiers come from the model's metadata; every value is a query parameter.
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(selected)} "
        f"FROM (VALUES {', '.join([first_row] + [other_row] * (len(rows) - 1))}) "
        f"AS v ({', '.join(aliases)}) RETURNING {pk}"
    )
    return sql, params
