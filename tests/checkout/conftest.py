"""The checkout tests use the shared fixtures (tests/shared_fixtures.py, loaded for every package).

Re-exported here for modules that import them by this older path.
"""

from tests.shared_fixtures import (  # noqa: F401
    AT,
    NOV_1,
    account,
    admin,
    frozen_now,
    put_in_cart,
    remote_support,
)
