"""Fixtures borrowed from the admin and renewal tests."""

from tests.renewals.conftest import acme  # noqa: F401
from tests.subscriptions.test_admin import support  # noqa: F401
