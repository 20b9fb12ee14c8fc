"""Helpers for the operations commands' tests.

Acme's billing admin (``admin``), its ``remote_support`` subscription (10
licenses at €42.00, 3 assigned, Nov 1 – Dec 1 2026) and ``frozen_now``
(2026-11-26 12:00 UTC) come from tests/shared_fixtures.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.shared_fixtures import AT, NOV_1  # noqa: F401 - re-exported for the tests here

ROOT = Path(__file__).resolve().parent.parent.parent


class TerminalOutput(StringIO):
    """Captured output that says it is a terminal, as an operator's shell is."""

    def isatty(self) -> bool:
        return True


def run(name: str, *args, stdout=None, **options) -> tuple[str, str]:
    """Run a management command as the shell would; return (stdout, stderr)."""
    out, err = stdout or StringIO(), StringIO()
    call_command(name, *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def run_in_shell(*argv: str) -> subprocess.CompletedProcess:
    """``python manage.py …`` in a process of its own, on this test run's database."""
    from django.db import connection

    db = connection.settings_dict
    login = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    url = f"postgres://{login}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "1"}
    return subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def acme(account):
    """Acme GmbH (Germany, 19 %), whose billing admin is ``admin`` (tests/shared_fixtures.py)."""
    return account
