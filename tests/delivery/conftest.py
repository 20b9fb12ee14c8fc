"""Real servers for the confirmation email: an SMTP sink, Redis and a Celery worker.

Nothing here is mocked. The sink is aiosmtpd on a free loopback port; the
worker is `celery -A billing_portal worker` in a subprocess on the real Redis
(a database of its own, keys under a prefix of this run) and this test's
PostgreSQL database. Every wait is bounded and every process is killed in
teardown.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import time_machine
from aiosmtpd.smtp import SMTP

from billing_portal import celery_app
from checkout.models import Order
from subscriptions.services import tax_rates_ensure_eu_standard
from tests.checkout.conftest import AT, account, admin, put_in_cart, remote_support  # noqa: F401
from tests.checkout.helpers import place
from tests.delivery.harness import (
    WORKER_START_TIMEOUT,
    Broker,
    Inbox,
    SmtpSink,
    Worker,
    celery_publishing_to,
    own_database,
    portal_environment,
    wait_until,
)
from tests.helpers import ROOT


@pytest.fixture
def smtp_sink(settings) -> Iterator[SmtpSink]:
    """A real SMTP server on a free loopback port; this process sends to it too."""
    inbox = Inbox()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    state: dict = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(
            loop.create_server(
                lambda: SMTP(inbox, hostname="sink.localhost", loop=loop), "127.0.0.1", 0
            )
        )
        state["server"] = server
        state["port"] = server.sockets[0].getsockname()[1]
        started.set()
        loop.run_forever()
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()

    thread = threading.Thread(target=serve, name="smtp-sink", daemon=True)
    thread.start()
    assert started.wait(10), "the SMTP sink did not start"
    sink = SmtpSink(inbox=inbox, port=state["port"])
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield sink
    inbox.release()
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture
def broker(redis_url: str) -> Iterator[Broker]:
    """The real Redis as this process's broker: tasks are published, not run eagerly."""
    url = own_database(redis_url)
    key_prefix = f"delivery-{os.getpid()}-{secrets.token_hex(3)}:"
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    result = Broker(url=url, key_prefix=key_prefix, client=client)
    result.flush()
    options = {**celery_app.conf.broker_transport_options, "global_keyprefix": key_prefix}
    with celery_publishing_to(url, options):
        yield result
    result.flush()
    client.close()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (held, so nothing else takes it): refuses at once."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


@pytest.fixture
def broker_down(closed_port: int) -> Iterator[str]:
    """The broker is unreachable: publishing fails, as when Redis is down at Place order."""
    url = f"redis://127.0.0.1:{closed_port}/0"
    with celery_publishing_to(url):
        yield url


@pytest.fixture
def start_worker(
    transactional_db, smtp_sink: SmtpSink, broker: Broker, tmp_path: Path
) -> Iterator[Callable[[], Worker]]:
    """Start `celery -A billing_portal worker` on this test's database, broker and sink."""
    workers: list[Worker] = []

    def start() -> Worker:
        log = tmp_path / f"worker-{len(workers)}.log"
        environment = portal_environment(
            smtp_sink,
            DJANGO_SETTINGS_MODULE="tests.delivery.worker_settings",
            CELERY_BROKER_URL=broker.url,
            DELIVERY_REDIS_KEY_PREFIX=broker.key_prefix,
        )
        with log.open("wb") as output:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "billing_portal",
                    "worker",
                    "--pool=solo",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    f"--hostname=delivery{len(workers)}-{os.getpid()}@%h",
                ],
                cwd=ROOT,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as one
            )
        worker = Worker(process=process, log=log)
        workers.append(worker)

        def ready() -> bool:
            if process.poll() is not None:
                pytest.fail(f"The worker exited ({process.returncode}):\n{worker.output()}")
            return " ready." in worker.output()

        wait_until(ready, timeout=WORKER_START_TIMEOUT, what="the Celery worker to start")
        return worker

    yield start
    for number, worker in enumerate(workers):
        worker.kill()
        # Shown by pytest only when the test failed.
        print(f"--- worker {number} ---\n{worker.output()[-5000:]}")


# -- Orders ---------------------------------------------------------------------------------


@pytest.fixture
def vat_rates(transactional_db) -> None:
    """The rates the migration seeds: a transactional test before this one flushed them."""
    tax_rates_ensure_eu_standard()


@pytest.fixture
def place_order(vat_rates, admin, account, remote_support) -> Callable[[], Order]:  # noqa: F811
    """Acme's admin places 10 → 7 licenses of Remote Support v5 (€274.89), as on the help page.

    The portal's clock is moved to the instant of the review (and keeps running); the
    worker reads the real clock, which the email does not depend on.
    """

    def placed() -> Order:
        with time_machine.travel(AT, tick=True):
            put_in_cart(remote_support, 7)
            return place(account, admin)

    return placed
