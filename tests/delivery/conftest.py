"""Real servers for the confirmation email: an SMTP sink, Redis and a Celery worker.

Nothing here is mocked. The sink is aiosmtpd on a free loopback port; the
worker is `celery -A billing_portal worker` in a subprocess on the real Redis
(a database of its own, keys under a prefix of this run) and this test's
PostgreSQL database. Every wait is bounded and every process is killed in
teardown.
"""

from __future__ import annotations

import asyncio
import email
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import kombu.pools
import pytest
import redis
import time_machine
from aiosmtpd.smtp import SMTP

from billing_portal import celery_app
from checkout.models import Order
from subscriptions.services import tax_rates_ensure_eu_standard
from tests.checkout.conftest import AT, account, admin, put_in_cart, remote_support  # noqa: F401
from tests.checkout.test_order_place import place
from tests.helpers import ROOT

WORKER_START_TIMEOUT = 20
DELIVERY_TIMEOUT = 20
# After the expected email arrived, how long a second one has to show up to be caught.
SETTLE = 1.0


def wait_until(condition: Callable[[], object], *, timeout: float, what: str) -> object:
    """Poll ``condition`` until it is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


# -- SMTP sink ---------------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler: keeps what it accepted, and misbehaves when told to.

    ``refuse_next(n)``: the next n messages get "451 try again".
    ``hold_next(accept=…)``: the next message waits (``held`` is set) until
    ``release()``, then is accepted, or refused as if the server had given up.
    """

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refusals = 0
        self.held = threading.Event()
        self._released = threading.Event()
        self._refuse_next = 0
        self._hold: bool | None = None  # None: no hold; else accept after the hold?
        self._lock = threading.Lock()

    def refuse_next(self, count: int) -> None:
        with self._lock:
            self._refuse_next = count

    def hold_next(self, *, accept: bool) -> None:
        with self._lock:
            self._hold = accept
            self.held.clear()
            self._released.clear()

    def release(self) -> None:
        self._released.set()

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            hold, self._hold = self._hold, None
            refuse = self._refuse_next > 0
            self._refuse_next -= refuse
        if hold is not None:
            self.held.set()
            deadline = time.monotonic() + DELIVERY_TIMEOUT
            while not self._released.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            if not hold:
                return "451 4.3.0 Gave up waiting, try again later"
        if refuse:
            with self._lock:
                self.refusals += 1
            return "451 4.3.0 Try again later"
        message = email.message_from_bytes(envelope.original_content, policy=default_policy)
        with self._lock:
            self.messages.append(message)
        return "250 2.0.0 Accepted"

    def received(self) -> list[EmailMessage]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, count: int, *, timeout: float = DELIVERY_TIMEOUT) -> list[EmailMessage]:
        wait_until(lambda: len(self.received()) >= count, timeout=timeout, what=f"{count} email(s)")
        return self.received()

    def exactly_one(self) -> EmailMessage:
        """The one email that arrived; fails if none did, or a second one follows."""
        self.wait_for(1)
        deadline = time.monotonic() + SETTLE
        while time.monotonic() < deadline and len(self.received()) == 1:
            time.sleep(0.05)
        messages = self.received()
        assert len(messages) == 1, [m["Subject"] for m in messages]
        return messages[0]


@dataclass
class SmtpSink:
    inbox: Inbox
    port: int

    @property
    def email_url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


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


# -- Redis broker ------------------------------------------------------------------------


def _own_database(url: str) -> str:
    """TEST_REDIS_URL's server, the database below its own (14 for the default 15)."""
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{number - 1 if number else 1}"))


@dataclass
class Broker:
    url: str
    key_prefix: str
    client: redis.Redis

    def flush(self) -> None:
        for key in self.client.scan_iter(match=f"{self.key_prefix}*", count=1000):
            self.client.delete(key)


@contextmanager
def celery_publishing_to(url: str, transport_options: dict | None = None) -> Iterator[None]:
    """This process's Celery app publishes to ``url`` instead of running tasks eagerly."""
    conf = celery_app.conf
    names = ("broker_url", "task_always_eager", "broker_transport_options")
    saved = {name: conf[name] for name in names}
    conf.update(
        task_always_eager=False,
        broker_transport_options=transport_options or conf.broker_transport_options,
    )
    use_broker(url)
    try:
        yield
    finally:
        conf.update(saved)
        _drop_pooled_connections()


def use_broker(url: str) -> None:
    """Point this process's Celery app at ``url`` (the broker, or a closed port)."""
    celery_app.conf.broker_url = url
    _drop_pooled_connections()


def _drop_pooled_connections() -> None:
    # The app keeps connections (and producers) to the broker it first used; as after a
    # fork, drop them so the next publish connects to the broker now configured.
    amqp = celery_app.__dict__.get("amqp")
    for pool in (celery_app._pool, amqp and amqp._producer_pool):
        if pool is not None:
            pool.force_close_all()
    celery_app._pool = None
    if amqp is not None:
        amqp._producer_pool = None
    # Kombu also keeps producer pools per connection for the whole process: a closed one
    # would be handed out again when the same broker (memory:// when eager) comes back.
    kombu.pools.reset()


@pytest.fixture
def broker(redis_url: str) -> Iterator[Broker]:
    """The real Redis as this process's broker: tasks are published, not run eagerly."""
    url = _own_database(redis_url)
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


# -- Celery worker -------------------------------------------------------------------------


def database_url() -> str:
    """This test's PostgreSQL database (the test database pytest-django created)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def portal_environment(smtp_sink: SmtpSink, **extra: str) -> dict[str, str]:
    """What a portal process needs to use this test's database and SMTP sink."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELERY_", "EMAIL_", "DJANGO_"))
    }
    environment.update(
        DEBUG="1",
        DATABASE_URL=database_url(),
        EMAIL_URL=smtp_sink.email_url,
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return environment


@dataclass
class Worker:
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no acknowledgement, like a machine that lost power."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


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


def order_status(order: Order) -> str:
    order.refresh_from_db()
    return order.email_status


def wait_for_status(order: Order, status: str, *, timeout: float = DELIVERY_TIMEOUT) -> Order:
    wait_until(
        lambda: order_status(order) == status,
        timeout=timeout,
        what=f"order {order.number} to become {status}",
    )
    return order


def manage(*args: str, smtp_sink: SmtpSink, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run `python manage.py …` as an operator would, on this test's database and sink."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=portal_environment(smtp_sink),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
