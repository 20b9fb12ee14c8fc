"""Twelve-factor settings: safe local defaults, everything else from the environment."""

from tests.helpers import ROOT, load_settings, settings_for


def test_local_defaults_need_no_other_service():
    loaded = settings_for({"DEBUG": "1"})
    assert loaded["DATABASE"]["ENGINE"] == "django.db.backends.sqlite3"
    assert loaded["DATABASE"]["NAME"] == str(ROOT / "db.sqlite3")
    assert loaded["CELERY_TASK_ALWAYS_EAGER"] is True
    assert loaded["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert loaded["PAYMENT_GATEWAY"] == "sandbox"
    assert loaded["SELLER_COUNTRY"] == "DE"
    assert loaded["LANGUAGES"] == ["en", "de"]
    assert (loaded["USE_TZ"], loaded["TIME_ZONE"]) == (True, "UTC")
    assert loaded["CELERY_ACCEPT_CONTENT"] == ["json"]


def test_production_refuses_to_start_without_a_secret_key():
    for debug in ({}, {"DEBUG": "0"}):
        result = load_settings(debug)
        assert result.returncode != 0
        assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_every_service_comes_from_the_environment():
    loaded = settings_for(
        {
            "DEBUG": "0",
            "SECRET_KEY": "a-real-secret-from-the-vault",
            "ALLOWED_HOSTS": "billing.example.com,portal.internal",
            "DATABASE_URL": "postgres://portal:pw@db.internal:5433/billing",
            "CELERY_BROKER_URL": "redis://queue.internal:6379/2",
            "EMAIL_URL": "smtp://mail.internal:2525",
            "DEFAULT_FROM_EMAIL": "billing@example.com",
            "STRIPE_SECRET_KEY": "sk_test_123",
            "STRIPE_API_BASE": "http://127.0.0.1:8420",
            "SELLER_COUNTRY": "at",
            "CORPORATE_BILLING_URL": "https://corp.example.com/billing",
        }
    )
    assert loaded["DEBUG"] is False
    assert loaded["SECRET_KEY"] == "a-real-secret-from-the-vault"
    assert loaded["ALLOWED_HOSTS"] == ["billing.example.com", "portal.internal"]
    assert loaded["DATABASE"] == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "billing",
        "HOST": "db.internal",
        "PORT": 5433,
        "USER": "portal",
        "PASSWORD": "pw",
    }
    assert loaded["CELERY_BROKER_URL"] == "redis://queue.internal:6379/2"
    assert loaded["CELERY_TASK_ALWAYS_EAGER"] is False
    assert loaded["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (loaded["EMAIL_HOST"], loaded["EMAIL_PORT"]) == ("mail.internal", 2525)
    assert loaded["DEFAULT_FROM_EMAIL"] == "billing@example.com"
    assert loaded["PAYMENT_GATEWAY"] == "stripe"
    assert loaded["STRIPE_API_BASE"] == "http://127.0.0.1:8420"
    assert loaded["SELLER_COUNTRY"] == "AT"
    assert loaded["CORPORATE_BILLING_URL"] == "https://corp.example.com/billing"


POSTGRES = {"DEBUG": "1", "DATABASE_URL": "postgres://portal:pw@db.internal:5432/billing"}


def test_postgresql_pools_connections_and_prepares_hot_queries():
    loaded = settings_for(POSTGRES)
    assert loaded["DATABASE_OPTIONS"] == {
        "server_side_binding": True,
        "prepare_threshold": 5,
        "pool": {"min_size": 1, "max_size": 4, "timeout": 10.0},
    }
    assert loaded["CONN_MAX_AGE"] == 0  # the pool keeps the connections


def test_the_pool_and_prepared_statements_are_set_from_the_environment():
    loaded = settings_for(
        {
            **POSTGRES,
            "DATABASE_POOL_MIN_SIZE": "2",
            "DATABASE_POOL_MAX_SIZE": "8",
            "DATABASE_POOL_TIMEOUT": "2.5",
            "DATABASE_PLANS_CACHED_AFTER": "0",
        }
    )
    assert loaded["DATABASE_OPTIONS"]["pool"] == {"min_size": 2, "max_size": 8, "timeout": 2.5}
    assert loaded["DATABASE_OPTIONS"]["prepare_threshold"] == 0  # prepare at the first run


def test_behind_an_old_pgbouncer_prepared_statements_turn_off():
    loaded = settings_for({**POSTGRES, "DATABASE_PLANS_CACHED_AFTER": "off"})
    assert loaded["DATABASE_OPTIONS"]["prepare_threshold"] is None
    assert loaded["DATABASE_OPTIONS"]["server_side_binding"] is True
    result = load_settings({**POSTGRES, "DATABASE_PLANS_CACHED_AFTER": "sometimes"})
    assert result.returncode != 0 and "DATABASE_PLANS_CACHED_AFTER" in result.stderr


def test_kept_connections_instead_of_the_pool():
    loaded = settings_for({**POSTGRES, "DATABASE_POOL": "0", "CONN_MAX_AGE": "60"})
    assert "pool" not in loaded["DATABASE_OPTIONS"]
    assert loaded["CONN_MAX_AGE"] == 60
    # Django's persistent connections cannot be mixed with its pool.
    result = load_settings({**POSTGRES, "CONN_MAX_AGE": "60"})
    assert result.returncode != 0 and "CONN_MAX_AGE must be 0" in result.stderr


def test_sqlite_keeps_its_own_options():
    loaded = settings_for({"DEBUG": "1"})
    assert loaded["DATABASE_OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "pool" not in loaded["DATABASE_OPTIONS"]
