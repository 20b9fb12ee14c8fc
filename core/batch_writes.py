"""Set-based writes of many rows: the one place with SQL of our own.

A renewal run writes a thousand orders, lines, payments and subscriptions a
batch. Django's ``bulk_update`` sends one ``CASE WHEN pk = …`` per field,
which PostgreSQL evaluates branch by branch for every row: the cost grows
with the square of the batch. ``bulk_create`` prepares every field of every
row through the field, which costs more in Python than the insert costs
PostgreSQL. On PostgreSQL these are one ``UPDATE … FROM unnest(…)`` and one
``INSERT … SELECT … FROM unnest(…) RETURNING id``, composed with
``psycopg.sql`` (identifiers from the models' metadata, every value a
parameter).

Below ``SET_BASED_FROM`` rows (one order of Place order or of the staff seat
change) and on SQLite (``make run``) they are the ORM's ``bulk_create`` and
``bulk_update``: the set-based statements are for the renewal run's batches.
The order writer and the payment attempts write through them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import Enum

from django.db import connection
from django.db.models import F, Model
from djmoney.utils import MONEY_CLASSES
from psycopg import sql

# The fewest rows written with the set-based statements; fewer go through the ORM.
SET_BASED_FROM = 20

# Values PostgreSQL's get_db_prep_save hands to the driver as they are (and aware datetimes).
_PLAIN = frozenset({str, int, Decimal, type(None)})


def batch_insert(objects: list[Model]) -> list[Model]:
    """Insert new objects of one model in one statement and give each its primary key.

    What is stored is what ``bulk_create`` stores: each field's ``pre_save``
    (defaults, ``auto_now``) and its preparation for the database. The rows are
    read from the arrays in the order given, so the ids come back in that order.
    """
    if not objects:
        return objects
    model = type(objects[0])
    if connection.vendor != "postgresql" or len(objects) < SET_BASED_FROM:
        return model.objects.bulk_create(objects)
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    # One array a column, unnested into rows in the order given: a short statement
    # whatever the batch, parsed once. A value the same in every row (a currency, a
    # kind, a time) is sent once.
    values = [_db_values(field, objects, add=True) for field in fields]
    varying = [index for index, column in enumerate(values) if not _same(column)] or [0]
    selected, scalars = [], []
    for index, field in enumerate(fields):
        if index in varying:
            selected.append(sql.Identifier(f"c{index}"))
        else:
            selected.append(_typed(field))
            scalars.append(values[index][0])
    statement = sql.SQL(
        "INSERT INTO {table} ({columns}) SELECT {selected} "
        "FROM unnest({arrays}) AS v ({aliases}) RETURNING {pk}"
    ).format(
        table=sql.Identifier(meta.db_table),
        columns=sql.SQL(", ").join(sql.Identifier(field.column) for field in fields),
        selected=sql.SQL(", ").join(selected),
        arrays=sql.SQL(", ").join(_typed(fields[index], array=True) for index in varying),
        aliases=sql.SQL(", ").join(sql.Identifier(f"c{index}") for index in varying),
        pk=sql.Identifier(meta.pk.column),
    )
    params = scalars + [values[index] for index in varying]
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(None), params)
        ids = [row[0] for row in cursor.fetchall()]
    for obj, pk in zip(objects, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    return objects


def _typed(field, *, array: bool = False) -> sql.Composable:
    """A parameter (or an array of them) of the column's type without its length or
    precision: an explicit cast to varchar(32) would cut a longer value to fit, where
    the column's own (assignment) cast refuses it, as the ORM's insert does."""
    base = re.sub(r"\(.*?\)", "", field.db_type(connection)) + ("[]" if array else "")
    return sql.SQL("{}::{}").format(sql.Placeholder(), sql.SQL(base))


def _same(values: list) -> bool:
    first = values[0]
    return all(value == first and type(value) is type(first) for value in values)


def _db_values(field, objects: list[Model], *, add: bool) -> list:
    """The field's value in each object, as ``bulk_create`` (or ``save``) sends it."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        values = [field.pre_save(obj, add) for obj in objects]
    else:
        # An object holds its columns in its __dict__ (a money field: its amount); a
        # deferred one is read through the field.
        attname = field.attname
        values = [
            obj.__dict__[attname] if attname in obj.__dict__ else getattr(obj, attname)
            for obj in objects
        ]
    return [_db_value(field, value) for value in values]


def _db_value(field, value):
    """A plain value as it is (what PostgreSQL's ``get_db_prep_save`` would give)."""
    if type(value) in _PLAIN or (type(value) is datetime and value.tzinfo is not None):
        return value
    if isinstance(value, MONEY_CLASSES):
        return value.amount  # what djmoney's get_db_prep_save does first
    if isinstance(value, Enum) and type(value.value) in _PLAIN:
        return value.value  # a choice: its value, as the field would give it
    return field.get_db_prep_save(value, connection)


def batch_update(
    model: type[Model], objects: list[Model], fields: list[str], *, increment: Iterable[str] = ()
) -> int:
    """Write ``fields`` of saved ``objects`` (and add 1 to each ``increment`` column) in one
    statement; returns the rows changed. The in-memory ``increment`` fields hold the new
    values afterwards. An ``auto_now`` field among ``fields`` gets the time now, as
    ``save(update_fields=…)`` gives it."""
    if not objects:
        return 0
    increment = list(increment)
    if connection.vendor != "postgresql" or len(objects) < SET_BASED_FROM:
        changed = _bulk_update(model, objects, fields, increment)
    else:
        changed = _values_update(model, objects, fields, increment)
    for obj in objects:
        for name in increment:
            setattr(obj, name, getattr(obj, name) + 1)
    return changed


def _bulk_update(model, objects, fields, increment) -> int:
    """One row: ``update()``, as ``save(update_fields=…)`` sends it. More: Django's
    ``bulk_update``, one statement. Trap: ``bulk_update`` casts each value to the
    column's type on PostgreSQL, and an explicit cast to ``varchar(n)`` cuts a longer
    value to fit instead of refusing it; what it writes here are the portal's own
    values (statuses, ids, times)."""
    if len(objects) == 1:
        [obj] = objects
        values = {name: _value_to_save(model._meta.get_field(name), obj) for name in fields}
        values.update({name: F(name) + 1 for name in increment})
        return model.objects.filter(pk=obj.pk).update(**values)
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


def _value_to_save(field, obj):
    """The field's value as ``save(update_fields=…)`` takes it (``auto_now``: now)."""
    if getattr(field, "auto_now", False):
        return field.pre_save(obj, False)
    return getattr(obj, field.name)


def _values_update(model, objects, fields, increment) -> int:
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    values = [_db_values(column, objects, add=False) for column in columns]
    varying = [0] + [index for index in range(1, len(columns)) if not _same(values[index])]
    table = sql.Identifier(meta.db_table)
    assignments, scalars = [], []
    for index, column in enumerate(columns[1:], start=1):
        name = sql.Identifier(column.column)
        if index in varying:
            assignments.append(sql.SQL("{} = v.{}").format(name, name))
        else:
            assignments.append(sql.SQL("{} = {}").format(name, _typed(column)))
            scalars.append(values[index][0])
    for name in increment:
        column = sql.Identifier(meta.get_field(name).column)
        assignments.append(sql.SQL("{} = {}.{} + 1").format(column, table, column))
    pk = sql.Identifier(meta.pk.column)
    statement = sql.SQL(
        "UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v ({names}) "
        "WHERE {table}.{pk} = v.{pk}"
    ).format(
        table=table,
        assignments=sql.SQL(", ").join(assignments),
        arrays=sql.SQL(", ").join(_typed(columns[index], array=True) for index in varying),
        names=sql.SQL(", ").join(sql.Identifier(columns[index].column) for index in varying),
        pk=pk,
    )
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(None), scalars + [values[index] for index in varying])
        return cursor.rowcount
