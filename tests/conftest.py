"""Suite-wide fixtures: a database of its own per run, real Redis, no silent skips in CI."""

from __future__ import annotations

import os
import secrets

import pytest
from hypothesis import settings as hypothesis_settings

hypothesis_settings.register_profile("default", deadline=None)
hypothesis_settings.load_profile("default")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Acme's billing admin, its subscription and a frozen clock, for every package.
pytest_plugins = ["tests.shared_fixtures"]


def pytest_sessionstart(session: pytest.Session) -> None:
    if not session.config.pluginmanager.has_plugin("django"):
        return  # `-p no:django`: only the pure billing-rule tests can run
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine and not os.environ.get("ALLOW_SQLITE_TESTS"):
        raise pytest.UsageError(
            "The suite runs on PostgreSQL: use `make test`, or set DATABASE_URL="
            f"postgres://postgres@127.0.0.1:5432/billing_portal (engine now: {engine})."
        )


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    """Give this run a test database of its own, so two runs never collide.

    The connection options are the deployed ones (billing_portal/settings.py): the
    pool, server-side binding and prepared statements. A thread a test starts closes
    its connection when done (``connection.close()``), which gives it back to the
    pool; Django closes the pool before it drops the test database.
    """
    from django.conf import settings

    suffix = f"{os.getpid()}_{secrets.token_hex(3)}"
    for alias in settings.DATABASES.values():
        if "postgresql" in alias["ENGINE"]:
            test = alias.setdefault("TEST", {})
            test["NAME"] = f"test_{alias['NAME']}_{suffix}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skip is a failure: nothing that needs a missing part may skip."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"Skipped under CI=true, which is not allowed: {report.longrepr}"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The real Redis server the suite talks to (TEST_REDIS_URL)."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis at {url} is not reachable: {error}")
    return url


@pytest.fixture(autouse=True)
def _fast_password_hashing(request: pytest.FixtureRequest) -> None:
    """Passwords are hashed for real, just with a cheap hasher in tests."""
    if not request.config.pluginmanager.has_plugin("django"):
        return
    settings = request.getfixturevalue("settings")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _english_between_tests(request: pytest.FixtureRequest):
    """A request in German leaves German active in the thread; the next test starts in English."""
    yield
    if not request.config.pluginmanager.has_plugin("django"):
        return
    from django.utils import translation

    translation.deactivate()


@pytest.fixture(autouse=True)
def _reference_data_in_transactional_tests(request: pytest.FixtureRequest) -> None:
    """A transactional test starts from tables emptied by the one before (TRUNCATE), which
    also removes what data migrations put there. Put the EU VAT rates back."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or "live_server" in (
        request.fixturenames
    )
    if transactional or (marker is not None and marker.kwargs.get("transaction")):
        request.getfixturevalue("transactional_db")
        from subscriptions.services import tax_rates_ensure_eu_standard

        tax_rates_ensure_eu_standard()
