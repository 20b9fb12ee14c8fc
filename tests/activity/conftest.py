"""Fixtures borrowed from the admin tests."""

from tests.subscriptions.test_admin import support  # noqa: F401
