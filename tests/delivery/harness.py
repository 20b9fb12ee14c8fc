"""The real servers of the delivery tests, and how a test waits for them.

An SMTP sink's inbox, the Redis broker this process publishes to, a Celery
worker process, and ``manage.py`` run as an operator would; the fixtures that
start them are in conftest.py. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import email
import os
import signal
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

from billing_portal import celery_app
from checkout.models import Order
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


# -- Redis broker ------------------------------------------------------------------------


def own_database(url: str) -> str:
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


# -- Orders and commands ---------------------------------------------------------------------


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
