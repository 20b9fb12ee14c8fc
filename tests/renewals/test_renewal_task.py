"""The beat schedule renews every 15 minutes, through a task the worker knows."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
import time_machine

from billing_portal import celery_app
from checkout.models import Order
from renewals.tasks import renew_subscriptions_task
from tests.helpers import ROOT
from tests.renewals.conftest import DEC_1, subscribe


def test_renewals_run_every_15_minutes():
    entry = celery_app.conf.beat_schedule["renew-subscriptions"]
    assert entry["task"] == renew_subscriptions_task.name
    assert entry["schedule"] == 15 * 60
    assert entry["options"]["expires"] < entry["schedule"]


def test_a_worker_started_afresh_knows_the_renewal_task():
    """What `celery -A billing_portal worker` loads, in a process that imported nothing else."""
    probe = (
        "import django; django.setup()\n"
        "from billing_portal import celery_app\n"
        "celery_app.loader.import_default_modules()\n"
        "print('renewals.tasks.renew_subscriptions_task' in celery_app.tasks)\n"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "billing_portal.settings"}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


@pytest.mark.django_db
def test_the_task_renews_what_is_due_now(acme):
    subscribe(acme)
    with time_machine.travel(DEC_1 + timedelta(minutes=3), tick=False):
        result = renew_subscriptions_task.delay().get()
    assert result["renewed"] == 1
    assert result["charged"] == {"EUR": "499.80"}
    assert Order.objects.get().kind == "renewal"
