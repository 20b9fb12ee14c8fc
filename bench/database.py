"""The PostgreSQL server the benchmarks run on, and statements on its maintenance database.

BENCH_DATABASE_URL, else TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432:
each benchmark creates a database of its own there and drops it afterwards.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit


def server_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL") or os.environ.get(
        "TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/billing_portal"
    )


def database_url(name: str) -> str:
    parts = urlsplit(server_url())
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def admin_connect():
    import psycopg

    parts = urlsplit(server_url())
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
        autocommit=True,  # CREATE and DROP DATABASE run outside a transaction
    )


def admin_sql(statement: str, params: tuple = ()) -> list[tuple]:
    """Run one statement on the server's maintenance database (outside a transaction)."""
    connection = admin_connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()
