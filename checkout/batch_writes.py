"""Set-based writes of many rows: the one place with SQL of our own.

A renewal run writes a thousand orders, lines, payments and subscriptions a
batch. Django's ``bulk_update`` sends one ``CASE WHEN pk = …`` per field,
which PostgreSQL evaluates branch by branch for every row: the cost grows
with the square of the batch. ``bulk_create`` prepares every field of every
row through the field, which costs more in Python than the insert costs
PostgreSQL. On PostgreSQL these are one ``UPDATE … FROM (VALUES …)`` and one
``INSERT … SELECT … FROM (VALUES …) RETURNING id``, composed with
``psycopg.sql`` (identifiers from the models' metadata, every value a
parameter). Elsewhere (SQLite for ``make run``) they are ``bulk_update`` and
``bulk_create``. The order writer and the payment attempts write through them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import Enum

from django.db import connection
from django.db.models import F, Model
from djmoney.utils import MONEY_CLASSES
from psycopg import sql

# Values PostgreSQL's get_db_prep_save hands to the driver as they are (and aware datetimes).
_PLAIN = frozenset({str, int, Decimal, type(None)})


def rows_insert(objects: list[Model]) -> list[Model]:
    """Insert new objects of one model in one statement and give each its primary key.

    What is stored is what ``bulk_create`` stores: each field's ``pre_save``
    (defaults, ``auto_now``) and its preparation for the database. A value the
    same in every row is sent once. The rows are read in the order given, so
    the ids come back in that order.
    """
    if not objects:
        return objects
    model = type(objects[0])
    if connection.vendor != "postgresql":
        return model.objects.bulk_create(objects)
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    rows = [[_db_value(field, obj) for field in fields] for obj in objects]
    same = [
        index
        for index in range(len(fields))
        if all(row[index] == rows[0][index] for row in rows)
        and len({type(row[index]) for row in rows}) == 1
    ]
    differ = [index for index in range(len(fields)) if index not in same] or [0]
    same = [index for index in same if index not in differ]
    params = [rows[0][index] for index in same]
    for row in rows:
        params += [row[index] for index in differ]

    def typed(index: int) -> sql.Composable:
        return sql.SQL("{}::{}").format(
            sql.Placeholder(), sql.SQL(fields[index].db_type(connection))
        )

    aliases = [sql.Identifier(f"c{index}") for index in differ]
    first = sql.SQL("({})").format(sql.SQL(", ").join(typed(index) for index in differ))
    other = sql.SQL("({})").format(sql.SQL(", ").join([sql.Placeholder()] * len(differ)))
    statement = sql.SQL(
        "INSERT INTO {table} ({columns}) SELECT {selected} "
        "FROM (VALUES {rows}) AS v ({aliases}) RETURNING {pk}"
    ).format(
        table=sql.Identifier(meta.db_table),
        columns=sql.SQL(", ").join(sql.Identifier(fields[index].column) for index in differ + same),
        selected=sql.SQL(", ").join(
            [sql.SQL("v.{}").format(alias) for alias in aliases] + [typed(i) for i in same]
        ),
        rows=sql.SQL(", ").join([first] + [other] * (len(rows) - 1)),
        aliases=sql.SQL(", ").join(aliases),
        pk=sql.Identifier(meta.pk.column),
    )
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(None), params)
        ids = [row[0] for row in cursor.fetchall()]
    for obj, pk in zip(objects, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    return objects


def _db_value(field, obj: Model):
    """The field's value as ``bulk_create`` sends it; a plain one as it is."""
    value = field.pre_save(obj, True)
    if isinstance(value, MONEY_CLASSES):
        value = value.amount  # what djmoney's get_db_prep_save does first
    elif isinstance(value, Enum) and type(value.value) in _PLAIN:
        value = value.value  # a choice: its value, as the field would give it
    if type(value) in _PLAIN or (type(value) is datetime and value.tzinfo is not None):
        return value
    return field.get_db_prep_save(value, connection)


def rows_update(
    model: type[Model], objects: list[Model], fields: list[str], *, increment: Iterable[str] = ()
) -> int:
    """Write ``fields`` of saved ``objects`` (and add 1 to each ``increment`` column) in one
    statement; returns the rows changed. The in-memory ``increment`` fields hold the new
    values afterwards. ``auto_now`` fields are written as the objects hold them."""
    if not objects:
        return 0
    increment = list(increment)
    if connection.vendor != "postgresql":
        changed = _bulk_update(model, objects, fields, increment)
    else:
        changed = _values_update(model, objects, fields, increment)
    for obj in objects:
        for name in increment:
            setattr(obj, name, getattr(obj, name) + 1)
    return changed


def _bulk_update(model, objects, fields, increment) -> int:
    before = [{name: getattr(obj, name) for name in increment} for obj in objects]
    for obj in objects:
        for name in increment:
            setattr(obj, name, F(name) + 1)
    try:
        return model.objects.bulk_update(objects, [*fields, *increment])
    finally:
        for obj, values in zip(objects, before, strict=True):
            for name, value in values.items():
                setattr(obj, name, value)


def _values_update(model, objects, fields, increment) -> int:
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    params = []
    for obj in objects:
        params += [
            column.get_db_prep_save(getattr(obj, column.attname), connection) for column in columns
        ]
    names = [sql.Identifier(column.column) for column in columns]
    # The first row names each column's type; the others follow it (a NULL included).
    first = sql.SQL("({})").format(
        sql.SQL(", ").join(
            sql.SQL("{}::{}").format(sql.Placeholder(), sql.SQL(column.db_type(connection)))
            for column in columns
        )
    )
    other = sql.SQL("({})").format(sql.SQL(", ").join([sql.Placeholder()] * len(columns)))
    table = sql.Identifier(meta.db_table)
    assignments = [sql.SQL("{} = v.{}").format(name, name) for name in names[1:]]
    assignments += [
        sql.SQL("{} = {}.{} + 1").format(
            sql.Identifier(meta.get_field(name).column),
            table,
            sql.Identifier(meta.get_field(name).column),
        )
        for name in increment
    ]
    statement = sql.SQL(
        "UPDATE {table} SET {assignments} FROM (VALUES {rows}) AS v ({names}) "
        "WHERE {table}.{pk} = v.{pk}"
    ).format(
        table=table,
        assignments=sql.SQL(", ").join(assignments),
        rows=sql.SQL(", ").join([first] + [other] * (len(objects) - 1)),
        names=sql.SQL(", ").join(names),
        pk=names[0],
    )
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(None), params)
        return cursor.rowcount
