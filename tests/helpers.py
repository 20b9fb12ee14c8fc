"""Load the portal's settings in a clean process, as a deployment would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_PROBE = """
import json
from django.conf import settings
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "SECRET_KEY": settings.SECRET_KEY,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "DATABASE": {
        key: settings.DATABASES["default"].get(key)
        for key in ("ENGINE", "NAME", "HOST", "PORT", "USER", "PASSWORD")
    },
    "DATABASE_OPTIONS": settings.DATABASES["default"].get("OPTIONS", {}),
    "CONN_MAX_AGE": settings.DATABASES["default"]["CONN_MAX_AGE"],
    "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    "CELERY_TASK_ALWAYS_EAGER": settings.CELERY_TASK_ALWAYS_EAGER,
    "CELERY_ACCEPT_CONTENT": settings.CELERY_ACCEPT_CONTENT,
    "EMAIL_BACKEND": settings.EMAIL_BACKEND,
    "EMAIL_HOST": getattr(settings, "EMAIL_HOST", None),
    "EMAIL_PORT": getattr(settings, "EMAIL_PORT", None),
    "DEFAULT_FROM_EMAIL": settings.DEFAULT_FROM_EMAIL,
    "PAYMENT_GATEWAY": settings.PAYMENT_GATEWAY,
    "STRIPE_API_BASE": settings.STRIPE_API_BASE,
    "SELLER_COUNTRY": settings.SELLER_COUNTRY,
    "CORPORATE_BILLING_URL": settings.CORPORATE_BILLING_URL,
    "LANGUAGES": [code for code, _ in settings.LANGUAGES],
    "USE_TZ": settings.USE_TZ,
    "TIME_ZONE": settings.TIME_ZONE,
}))
"""


def load_settings(environment: dict[str, str]) -> subprocess.CompletedProcess:
    """Import billing_portal.settings with exactly ``environment`` (plus PATH)."""
    env = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "billing_portal.settings"}
    env.update(environment)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + _PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_for(environment: dict[str, str]) -> dict:
    result = load_settings(environment)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
