"""Query plans of prepared statements, for the queries whose best plan depends on the values."""

from __future__ import annotations

from django.db import connection


def plan_for_the_values() -> None:
    """Plan this transaction's queries for their own parameter values.

    psycopg prepares a query once it has run a few times on a connection
    (``DATABASE_PLANS_CACHED_AFTER``), and after a few runs PostgreSQL may keep
    one generic plan for it, made without the values. Trap: for a renewal
    batch's reads by due date, account and token lists, that generic plan
    scans far more rows as the table grows (a run of 100,000 renewed at a third
    of the rate of one of 10,000). Called inside ``transaction.atomic()``; the
    setting ends with the transaction. Does nothing on SQLite.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")
