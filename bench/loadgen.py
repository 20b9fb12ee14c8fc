"""A small HTTP/1.1 load generator on asyncio, standard library only.

One event loop drives many virtual clients. Each client owns one connection
(kept alive when the server allows it; gunicorn's sync workers close it after
each response, so the client reconnects) and can act for any signed-in user:
cookies belong to a ``CookieJar``, not to the connection. Every response is
read whole (Content-Length, chunked or until close) and timed from the first
byte sent to the last byte read; ``Recorder`` keeps the latencies and status
codes per label.
"""

from __future__ import annotations

import asyncio
import html
import math
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode

CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
REVIEW_INPUT = re.compile(rb'name="review" value="([^"]+)"')


class ProtocolError(Exception):
    """The server's answer was not HTTP/1.x as expected."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    cookies: dict[str, str]
    body: bytes
    seconds: float

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


@dataclass
class CookieJar:
    """One signed-in user's cookies (session, CSRF), whichever connection carries them."""

    cookies: dict[str, str] = field(default_factory=dict)

    def header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def update(self, cookies: dict[str, str]) -> None:
        for name, value in cookies.items():
            if value:
                self.cookies[name] = value
            else:  # an empty value deletes it (Django's delete_cookie)
                self.cookies.pop(name, None)


def form_value(pattern: re.Pattern[bytes], body: bytes) -> str:
    """The first match of ``pattern`` in a page, HTML-unescaped ('' if none)."""
    match = pattern.search(body)
    return html.unescape(match.group(1).decode()) if match else ""


def parse_head(head: bytes) -> tuple[int, str, dict[str, str], dict[str, str]]:
    """Status line and headers of a response: (status, version, headers, set cookies)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ProtocolError(f"not an HTTP/1.x status line: {lines[0]!r}")
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "set-cookie":
            pair = value.split(";", 1)[0]
            cookie, _, cookie_value = pair.partition("=")
            cookies[cookie.strip()] = cookie_value.strip().strip('"')
        else:
            headers[name] = value
    return int(parts[1]), parts[0], headers, cookies


class Connection:
    """One client's connection to the server; reopened whenever the server closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.opened = 0

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.opened += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        jar: CookieJar | None = None,
        form: dict[str, str] | None = None,
    ) -> Response:
        host = f"{self.host}:{self.port}"
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Accept: text/html"]
        body = b""
        if form is not None:
            body = urlencode(form).encode()
            lines += [
                "Content-Type: application/x-www-form-urlencoded",
                f"Content-Length: {len(body)}",
                f"Origin: http://{host}",  # as a browser sends with a POST
            ]
        if jar is not None and jar.cookies:
            lines.append(f"Cookie: {jar.header()}")
        message = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        started = time.perf_counter()
        reused = self.writer is not None
        if not reused:
            await self._open()
        try:
            response = await self._exchange(message, started)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()
            if not reused or method != "GET":
                raise  # a POST is never sent twice by the client itself
            # A kept-alive connection the server closed meanwhile: once more on a new one.
            await self._open()
            try:
                response = await self._exchange(message, started)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                raise
        if jar is not None:
            jar.update(response.cookies)
        return response

    async def _exchange(self, message: bytes, started: float) -> Response:
        assert self.reader is not None and self.writer is not None
        self.writer.write(message)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, version, headers, cookies = parse_head(head[:-4])
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = await self.reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close" or version == "HTTP/1.0":
            self.close()
        return Response(status, headers, cookies, body, time.perf_counter() - started)

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        chunks = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(chunks)
            chunks.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)


@dataclass
class Recorder:
    """Latencies and status codes per label, and failures (anything not as expected)."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, Counter] = field(default_factory=dict)
    failures: dict[str, Counter] = field(default_factory=dict)

    def record(self, label: str, response: Response, ok: bool, why: str = "") -> None:
        self.latencies.setdefault(label, []).append(response.seconds)
        self.statuses.setdefault(label, Counter())[response.status] += 1
        if not ok:
            self.fail(label, why or f"HTTP {response.status}")

    def fail(self, label: str, why: str) -> None:
        self.failures.setdefault(label, Counter())[why] += 1

    def count(self, label: str) -> int:
        return len(self.latencies.get(label, ()))

    def failed(self, label: str | None = None) -> int:
        labels = [label] if label else list(self.failures)
        return sum(sum(self.failures.get(name, Counter()).values()) for name in labels)

    def percentile(self, label: str, fraction: float) -> float:
        """The latency ``fraction`` of the requests stayed within (nearest rank), in seconds."""
        values = sorted(self.latencies.get(label, ()))
        if not values:
            return float("nan")
        rank = max(1, min(len(values), math.ceil(fraction * len(values) - 1e-9)))
        return values[rank - 1]


Job = Callable[[Connection], Awaitable[None]]


async def run_jobs(host: str, port: int, concurrency: int, jobs: Iterable[Job]) -> float:
    """Run every job on ``concurrency`` clients; returns the wall time in seconds."""
    iterator = iter(jobs)

    async def client() -> None:
        connection = Connection(host, port)
        try:
            for job in iterator:
                await job(connection)
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - started


async def run_for(
    host: str,
    port: int,
    concurrency: int,
    seconds: float,
    job: Callable[[Connection, int], Awaitable[None]],
) -> float:
    """Run ``job(connection, n)`` on ``concurrency`` clients until ``seconds`` passed.

    Requests in flight at the deadline finish and count; returns the wall time
    from start until the last one finished.
    """
    deadline = time.perf_counter() + seconds
    counter = iter(range(1 << 62))

    async def client() -> None:
        connection = Connection(host, port)
        try:
            while time.perf_counter() < deadline:
                await job(connection, next(counter))
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - started
