"""The pure billing-rule tests run without Django, as tests/conftest.py promises.

`pytest -p no:django tests/subscriptions/proration`: no settings, no database.
Every package loads tests/shared_fixtures.py, so it must not import a model at import time.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import ROOT


def test_the_proration_tests_run_with_django_switched_off():
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "PYTEST_ADDOPTS"}
    }
    command = "-m pytest -q -p no:django -p no:cacheprovider tests/subscriptions/proration"
    run = subprocess.run(
        [sys.executable, *command.split()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout and "failed" not in run.stdout and "error" not in run.stdout
