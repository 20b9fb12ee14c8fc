"""Settings for the billing portal.

Twelve-factor: everything that differs between a laptop, CI and production
comes from the environment (README.md, "Configuration", lists each variable
with its default). The defaults are the safe local ones that `make run` uses:
SQLite, tasks run in-process, email to the console, the sandbox gateway.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

# A development key only while DEBUG is on; production refuses to start without one.
_DEV_SECRET_KEY = "django-insecure-local-development-only-never-in-production"
SECRET_KEY = env("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "djmoney",
    "axes",
    "csp",
    "subscriptions",
    "payments",
    "checkout",
    "invoices",
    "renewals",
    "members",
    "billing_center",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a sign-in refused for too many failures into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "billing_portal.urls"
WSGI_APPLICATION = "billing_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "billing_center.context_processors.portal",
            ],
        },
    },
]

# -- Database ------------------------------------------------------------------


def _postgresql_options() -> dict:
    """psycopg 3's options: the connection pool and prepared statements (docs/operations.md).

    Server-side binding sends the parameters apart from the SQL, so a query's text
    is the same on every request; once it has run ``prepare_threshold`` times on a
    connection, psycopg prepares it there and PostgreSQL plans it once per
    connection instead of once per query. Prepared statements belong to one
    server session: behind a pooler that hands one client's session to another
    (PgBouncer in transaction mode older than 1.22), set
    ``DATABASE_PLANS_CACHED_AFTER=off``.
    """
    threshold = env.str("DATABASE_PLANS_CACHED_AFTER", default="5").strip().lower()
    if threshold in {"off", "none", ""}:
        prepare_threshold = None
    elif threshold.isdigit():
        prepare_threshold = int(threshold)
    else:
        raise ImproperlyConfigured(
            f"DATABASE_PLANS_CACHED_AFTER is a number of runs or 'off', not {threshold!r}."
        )
    options: dict = {"server_side_binding": True, "prepare_threshold": prepare_threshold}
    if env.bool("DATABASE_POOL", default=True):
        # One pool per process, opened at its first query (after gunicorn or Celery
        # forked). A thread that ends must give its connection back
        # (``connections.close_all()``), or the pool counts it as in use for good.
        options["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=4),
            # How long a query waits for a free connection before it fails.
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
        }
    return options


DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(_postgresql_options())
    if "pool" in DATABASES["default"]["OPTIONS"] and DATABASES["default"]["CONN_MAX_AGE"]:
        # The pool keeps the connections; Django's own persistent ones cannot be mixed in.
        raise ImproperlyConfigured(
            "CONN_MAX_AGE must be 0 with the connection pool (DATABASE_POOL, on by default); "
            "set DATABASE_POOL=0 to keep one connection per thread instead."
        )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # `make run`: concurrent requests (a double-clicked Place order) wait for the one
    # writing instead of failing with "database is locked". A transaction takes the
    # write lock when it starts (IMMEDIATE): one that began reading and then wants to
    # write could not wait for another writer, SQLite would refuse it at once. WAL lets
    # pages read while a write is under way.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# -- Users -----------------------------------------------------------------------
AUTH_USER_MODEL = "subscriptions.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "billing_center:home"
LOGOUT_REDIRECT_URL = "login"
# The lockout check comes first: a locked-out address is refused before its password is tried.
AUTHENTICATION_BACKENDS = [
    "subscriptions.sign_in.SignInLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# -- Sign-in lockout (django-axes) ------------------------------------------------
# Five failed sign-ins for one email (in any case, from any IP) or from one IP (for any
# emails) pause signing in for that email, or from that IP, for 15 minutes counted from
# the last failure. Attempts during the pause do not extend it, so the page can say
# when to come back. Unknown emails count the same way, so the lockout does not tell
# which emails have an account. A success does not wipe the count: with the IP
# counted, one's own sign-in would otherwise reset it for every email tried from that
# IP. Each failure and the lockout are logged (logger "axes") with the email and IP,
# never the password. Sign-in is by email (User.USERNAME_FIELD), but the form field
# is Django's "username", which is what axes must read.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "subscriptions.sign_in.sign_in_email"
# Behind the HTTPS proxy, the client's address as the proxy saw it, not the proxy's.
AXES_CLIENT_IP_CALLABLE = "subscriptions.sign_in.sign_in_ip"
AXES_RESET_ON_SUCCESS = False
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# Log lines name the email and IP only, and no start-up banner lands in commands' stderr.
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS: list[str] = []  # the password is masked regardless
# At most one password reset email per address in this time, however often it is asked
# for (the page answers the same either way); the link in it stays valid for Django's
# PASSWORD_RESET_TIMEOUT (three days).
PASSWORD_RESET_EMAIL_INTERVAL = timedelta(
    minutes=env.int("PASSWORD_RESET_EMAIL_INTERVAL_MINUTES", default=10)
)

# -- Language and time -------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("de", _("German"))]
LOCALE_PATHS = [BASE_DIR / "subscriptions" / "locale"]  # all messages, templates included
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"  # storage; pages show the account's own time zone

# -- Static files ------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
# In development WhiteNoise serves straight from the app folders; no collectstatic.
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# -- Money -------------------------------------------------------------------------
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "JPY")
DEFAULT_CURRENCY = "EUR"
# Seller's country decides domestic VAT and reverse charge (docs/billing-rules.md, "Tax").
SELLER_COUNTRY = env("SELLER_COUNTRY", default="DE").upper()
# Where a corporate account's billing admins are sent instead of self-service.
CORPORATE_BILLING_URL = env(
    "CORPORATE_BILLING_URL", default="https://billing.example.com/corporate"
)

# -- Payments ----------------------------------------------------------------------
# Without STRIPE_SECRET_KEY the built-in sandbox gateway takes payments.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="https://api.stripe.com")
# Every page that takes a card loads Stripe.js from here (a stand-in such as
# localstripe's in tests); the Content-Security-Policy below follows it.
STRIPE_JS_URL = env("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
PAYMENT_GATEWAY = "stripe" if STRIPE_SECRET_KEY else "sandbox"
# Each Stripe call waits this long, and the library retries a failed call this
# many times with the same idempotency key (429, 5xx, timeouts).
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=10.0)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)

# -- Tasks -------------------------------------------------------------------------
# Without a broker, tasks run in-process so `make run` needs no Redis.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# Acknowledged after the task ran, and handed back when the worker dies mid-task: our
# tasks are safe to run twice, never safe to lose.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Tasks are published from requests (Place order, after commit). With the broker down
# a publish must fail within about a second instead of hanging the page: the order keeps
# its email pending and the sweeper below sends it.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 1,  # connecting for a publish; the worker's own reconnects are not capped
    "socket_connect_timeout": 1,
    "socket_timeout": 2,  # a broker that accepts the connection but never answers
    # A message a dead worker held comes back after this long (a retry's countdown must
    # stay below it: ORDER_EMAIL_RETRY_BACKOFF_MAX).
    "visibility_timeout": 3600,
}
CELERY_TASK_IGNORE_RESULT = True
# Results are kept only for the tasks someone waits for (the shards of a fanned-out
# renewal run, `renew_subscriptions --fan-out`), in the Redis broker, for a day.
CELERY_RESULT_BACKEND = (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else None
)
CELERY_RESULT_EXPIRES = 86400
CELERY_TIMEZONE = "UTC"
# Beat's schedule (docs/operations.md): name, task, every (seconds), expires. A run that
# could not start before the next one is due expires and is replaced by that one.
CELERY_BEAT_SCHEDULE = {
    name: {"task": task, "schedule": every, "options": {"expires": expires}}
    for name, task, every, expires in [
        ("reconcile-payments", "payments.tasks.reconcile_payments", 300.0, 290),
        ("dispatch-pending-emails", "checkout.tasks.dispatch_pending_emails", 60.0, 55),
        (
            "dispatch-renewal-authentication-requests",
            "renewals.tasks.dispatch_renewal_authentication_requests",
            60.0,
            55,
        ),
        ("renew-subscriptions", "renewals.tasks.renew_subscriptions_task", 900.0, 840),
        ("dispatch-renewal-notices", "renewals.tasks.dispatch_renewal_notices", 60.0, 55),
        # Daily would do (30 days ahead); hourly, a missed beat costs an hour, not a day.
        ("send-renewal-reminders", "renewals.tasks.send_renewal_reminders_task", 3600.0, 3300),
        ("expire-trials", "subscriptions.tasks.expire_trials", 3600.0, 3300),
    ]
}
# The order confirmation (checkout/tasks.py): retried on SMTP and network errors after
# about 10, 20, 40 … at most 600 seconds (with jitter), then marked failed, at most half
# an hour in all. Orders still pending ORDER_EMAIL_SWEEP_AFTER seconds after they were
# placed are sent by the sweeper; the grace period leaves them to the normal path first.
ORDER_EMAIL_MAX_RETRIES = 8
ORDER_EMAIL_RETRY_BACKOFF = 10
ORDER_EMAIL_RETRY_BACKOFF_MAX = 600
ORDER_EMAIL_SMTP_TIMEOUT = 30  # the order row stays locked while the SMTP server answers
ORDER_EMAIL_SWEEP_AFTER = 120
ORDER_EMAIL_SWEEP_BATCH = 100

# -- Email -------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Billing Center <billing@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Links in email point here.
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

# -- Security ----------------------------------------------------------------------
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
# Trust X-Forwarded-Proto only behind a proxy that sets it; otherwise any client could.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_HTTPS_PROXY", default=False) else None
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ImproperlyConfigured(f"{url!r} is not an absolute http(s) URL.")
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(*, stripe_js_url: str, stripe_api_base: str) -> dict:
    """Content-Security-Policy (django-csp): the portal's own files only, plus Stripe.js.

    Stripe.js is loaded from the origin of ``stripe_js_url`` and opens its card and
    3-D Secure frames there (and on hooks.stripe.com); it calls the API at the origin
    of ``stripe_api_base`` (Stripe's own: api.stripe.com; a stand-in serves both from
    one origin). No inline script or style: a <script> that must be inline carries
    nonce="{{ request.csp_nonce }}".
    """
    script_origin = _origin(stripe_js_url)
    return {
        "DIRECTIVES": {
            "default-src": [SELF],
            "script-src": [SELF, NONCE, script_origin],
            "style-src": [SELF],
            "img-src": [SELF, "data:"],
            "connect-src": [SELF, _origin(stripe_api_base)],
            "frame-src": list(dict.fromkeys([script_origin, "https://hooks.stripe.com"])),
            "object-src": [NONE],
            "base-uri": [SELF],
            "form-action": [SELF],
            "frame-ancestors": [NONE],
        },
    }


CONTENT_SECURITY_POLICY = content_security_policy(
    stripe_js_url=STRIPE_JS_URL, stripe_api_base=STRIPE_API_BASE
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
