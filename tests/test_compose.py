"""docker-compose.yml cannot run here (no Docker engine), so check it against the settings."""

from __future__ import annotations

import re
import shlex
from urllib.parse import urlsplit

import pytest
import yaml

from tests.helpers import ROOT, settings_for

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PORTAL_SERVICES = ["migrate", "web", "worker", "beat"]
SETTINGS_SOURCE = (ROOT / "billing_portal" / "settings.py").read_text()
VARIABLES_READ = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', SETTINGS_SOURCE))
README = (ROOT / "README.md").read_text()


def interpolate(value: str, shell: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} against ``shell``."""

    def replace(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if shell.get(name):
            return shell[name]
        if op == ":?":
            raise LookupError(arg)
        return arg or ""

    return re.sub(r"\$\{([A-Z_]+)(?:(:-|:\?)([^}]*))?\}", replace, str(value))


def environment_of(service: str, shell: dict[str, str]) -> dict[str, str]:
    return {k: interpolate(v, shell) for k, v in SERVICES[service]["environment"].items()}


def test_all_services_are_there():
    assert {"web", "worker", "beat", "db", "redis", "mail"} <= set(SERVICES)


@pytest.mark.parametrize(
    ("service", "argv"),
    [
        ("web", ["gunicorn", "billing_portal.wsgi"]),
        ("worker", ["celery", "-A", "billing_portal", "worker"]),
        ("beat", ["celery", "-A", "billing_portal", "beat"]),
        ("migrate", ["python", "manage.py", "migrate"]),
    ],
)
def test_each_portal_service_runs_the_right_program(service, argv):
    command = shlex.split(SERVICES[service]["command"])
    assert command[: len(argv)] == argv
    assert SERVICES[service]["build"] == "."


def test_the_programs_they_name_exist():
    import billing_portal
    import billing_portal.wsgi

    assert callable(billing_portal.wsgi.application)
    assert billing_portal.celery_app.main == "billing_portal"


@pytest.mark.parametrize("service", PORTAL_SERVICES)
def test_every_variable_given_is_one_the_settings_read_and_the_readme_documents(service):
    for name in SERVICES[service]["environment"]:
        assert name in VARIABLES_READ, f"{service} sets {name}, which settings.py never reads"
        assert f"`{name}`" in README, f"{name} is not in the README's configuration table"


def test_every_variable_the_settings_read_is_documented():
    for name in VARIABLES_READ:
        assert f"`{name}`" in README, f"settings.py reads {name}; document it in README.md"


@pytest.mark.parametrize("service", PORTAL_SERVICES)
def test_services_point_at_the_compose_database_broker_and_mail(service):
    env = environment_of(service, {"SECRET_KEY": "compose-secret"})
    database = urlsplit(env["DATABASE_URL"])
    db_env = SERVICES["db"]["environment"]
    assert database.hostname == "db"
    assert (database.username, database.password) == (
        db_env["POSTGRES_USER"],
        db_env["POSTGRES_PASSWORD"],
    )
    assert database.path.lstrip("/") == db_env["POSTGRES_DB"]
    assert urlsplit(env["CELERY_BROKER_URL"]).hostname == "redis"
    assert urlsplit(env["EMAIL_URL"]).hostname == "mail"
    for dependency in ("db", "redis") if service != "beat" and service != "worker" else ("redis",):
        assert dependency in SERVICES[service]["depends_on"]


def test_compose_refuses_to_start_without_a_secret_key():
    with pytest.raises(LookupError, match="set SECRET_KEY"):
        environment_of("web", {})


def test_the_settings_load_with_the_compose_environment():
    env = environment_of("web", {"SECRET_KEY": "compose-secret"})
    loaded = settings_for(env)
    assert loaded["DEBUG"] is False
    assert loaded["DATABASE"]["ENGINE"] == "django.db.backends.postgresql"
    assert loaded["DATABASE"]["HOST"] == "db"
    assert loaded["CELERY_BROKER_URL"] == "redis://redis:6379/0"
    assert loaded["CELERY_TASK_ALWAYS_EAGER"] is False
    assert loaded["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (loaded["EMAIL_HOST"], loaded["EMAIL_PORT"]) == ("mail", 1025)
    assert loaded["PAYMENT_GATEWAY"] == "sandbox"  # until STRIPE_SECRET_KEY is given
    assert "localhost" in loaded["ALLOWED_HOSTS"]


def test_the_web_port_is_published():
    assert "8000:8000" in SERVICES["web"]["ports"]
