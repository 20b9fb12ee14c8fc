"""scripts/services.sh, the first step of `make test`: what it does on this machine.

Only the paths that change nothing are run here (the services already run; parts
that are elsewhere or missing, with INSTALL_MISSING=no). Starting and installing are
what .ci/run relies on in CI.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.helpers import ROOT

SCRIPT = ROOT / "scripts" / "services.sh"


def services(**overrides: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ["PATH"],
        "TEST_DATABASE_URL": os.environ.get(
            "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/billing_portal"
        ),
        "TEST_REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "VENV": str(ROOT / ".venv"),
        "INSTALL_MISSING": "no",  # never apt-get from a test
        **overrides,
    }
    return subprocess.run(
        [str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_with_everything_running_it_is_quick_and_quiet(redis_url):
    if not os.path.exists(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")):
        pytest.skip("Chromium is not installed here, so this machine is not all set up")
    started = time.monotonic()
    done = services(TEST_REDIS_URL=redis_url)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert time.monotonic() - started < 2


def test_a_database_elsewhere_that_does_not_answer_is_an_error():
    done = services(TEST_DATABASE_URL="postgres://postgres@db.invalid:5432/billing_portal")
    assert done.returncode == 1
    assert (
        "ERROR: PostgreSQL at db.invalid:5432 does not answer; it is not on this machine, "
        "so start it there or set TEST_DATABASE_URL." in done.stderr
    )
    assert "Starting" not in done.stdout


def test_a_missing_browser_is_an_error_under_ci_and_a_warning_elsewhere(redis_url):
    missing = {"CHROMIUM_PATH": "/nonexistent/chromium", "TEST_REDIS_URL": redis_url}
    in_ci = services(CI="true", **missing)
    assert in_ci.returncode == 1
    assert "ERROR: Chromium is not at /nonexistent/chromium" in in_ci.stderr
    assert "CI=true" in in_ci.stderr

    on_a_laptop = services(**missing)
    assert on_a_laptop.returncode == 0
    assert "WARNING: Chromium is not at /nonexistent/chromium" in on_a_laptop.stderr
    assert "Its tests will be skipped." in on_a_laptop.stderr


def test_ci_runs_make_test_and_make_test_sets_up_first():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "\nmake test\n" in ci and "pg_ctlcluster" not in ci and "apt-get" not in ci
    # The suite passes on any date: CI runs it again with the clock a year ahead.
    assert ci.index("\nmake test\n") < ci.index("\nmake test-a-year-ahead")
    ahead = subprocess.run(
        [
            "make",
            "-n",
            "-o",
            ".venv/.installed",
            "-o",
            ".venv/.installed-test",
            "test-a-year-ahead",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert ahead.index("./scripts/services.sh") < ahead.index("faketime -f '+365d'")
    assert ahead.index("faketime -f '+365d'") < ahead.index("pytest")
    dry_run = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "-o", ".venv/.installed-test", "test"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    steps = dry_run.stdout
    assert steps.index("./scripts/services.sh") < steps.index("pytest")
