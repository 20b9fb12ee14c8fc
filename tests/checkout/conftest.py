"""The checkout tests use the shared fixtures (tests/shared_fixtures.py)."""

from tests.shared_fixtures import AT, NOV_1, put_in_cart  # noqa: F401 - re-exported for tests
