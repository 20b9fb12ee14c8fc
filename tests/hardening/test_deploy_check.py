"""Hardening 13: Django's deployment checklist passes with production's environment.

`manage.py check --deploy` runs in a clean process with only what docs/operations.md's
configuration table says production sets, the way an operator would run it before
going live; any warning fails the run (--fail-level WARNING).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from tests.helpers import ROOT

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),  # 67 random characters, as docs/operations.md suggests
    "ALLOWED_HOSTS": "billing.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://billing.example.com",
    "DATABASE_URL": "postgres://portal:secret@db.internal:5432/billing_portal",
    "PORTAL_BASE_URL": "https://billing.example.com",
}


def check_deploy(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), **PRODUCTION_ENV, **extra_env}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "setup",
    [
        pytest.param({}, id="portal-terminates-https"),
        pytest.param({"BEHIND_HTTPS_PROXY": "1"}, id="behind-an-https-proxy"),
    ],
)
def test_check_deploy_finds_no_issues_in_production(setup):
    result = check_deploy(setup)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize(
    ("mistake", "check_id"),
    [
        pytest.param({"SECURE_HSTS_SECONDS": "0"}, "security.W004", id="no-hsts"),
        pytest.param({"SECURE_SSL_REDIRECT": "0"}, "security.W008", id="no-https-redirect"),
        pytest.param({"SECRET_KEY": "too-short-and-guessable"}, "security.W009", id="weak-key"),
        pytest.param({"DEBUG": "1"}, "security.W018", id="debug-on"),
    ],
)
def test_check_deploy_would_catch_a_production_mistake(mistake, check_id):
    """The run above is not vacuous: the same command flags each of these."""
    result = check_deploy(mistake)

    assert result.returncode != 0
    assert check_id in result.stderr + result.stdout
