"""Settings of the server `make bench` measures: the portal's own, plus the floor views.

Only two things differ from production: the URLconf adds the floor views of
``bench/floor.py`` under ``/bench/`` (the portal itself never references
them), and with the connection pool off (``DATABASE_POOL=0``) connections are
kept between requests unless ``CONN_MAX_AGE`` says otherwise (a fresh
PostgreSQL connection per request would cost the floor as much as a page and
flatter the ratios). With the pool on, as deployed, the pool keeps them.
"""

from billing_portal.settings import *  # noqa: F403
from billing_portal.settings import DATABASES, env

ROOT_URLCONF = "bench.urls"
if "pool" not in DATABASES["default"].get("OPTIONS", {}):
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
