"""What `make run` does, minus creating the virtualenv: SQLite, migrate, seed, serve."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from tests.helpers import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def local_environment(tmp_path) -> dict[str, str]:
    """The environment `make run` gives manage.py: only DEBUG, nothing else configured."""
    return {
        "PATH": os.environ["PATH"],
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def first_answer(url: str, attempts: int = 100) -> tuple[int, str] | None:
    """(status, body) of the first answer a freshly started server gives, or None."""
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, response.read().decode()
        except OSError:
            time.sleep(0.1)
    return None


@dataclass
class Served:
    url: str  # http://127.0.0.1:<port>
    errors: str = ""  # what the server wrote to stderr, once stopped


@contextmanager
def serving(env: dict[str, str], command: Callable[[int], list[str]]) -> Iterator[Served]:
    """The server ``command(port)`` starts on a free port, stopped (and its stderr kept)
    when the block ends."""
    port = free_port()
    server = subprocess.Popen(
        command(port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    served = Served(url=f"http://127.0.0.1:{port}")
    try:
        yield served
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=10)
        served.errors = errors.decode()


def runserver(port: int) -> list[str]:
    return [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]


def test_make_run_serves_the_demo_on_sqlite(local_environment):
    assert manage(local_environment, "migrate", "--noinput").returncode == 0
    seeded = manage(local_environment, "seed_demo")
    assert seeded.returncode == 0, seeded.stderr
    assert "billing.admin@acme.example" in seeded.stdout

    with serving(local_environment, runserver) as server:
        page = first_answer(f"{server.url}/accounts/login/")
        assert page is not None, "runserver did not answer"
        assert page[0] == 200
        assert "Sign in to the Billing Center" in page[1]
        with urllib.request.urlopen(f"{server.url}/static/css/portal.css", timeout=2) as r:
            assert r.status == 200


def place_the_demo_order(base_url: str) -> tuple[str, str]:
    """Sign in as the demo's billing admin, change Remote Support to 7 licenses and place
    the order: (the order page's URL, the page)."""
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )

    def send(path: str, form: dict | None = None) -> tuple[str, str]:
        """(final URL, page) after redirects; a form is posted with the page's CSRF token."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        with browser.open(base_url + path, data=data, timeout=10) as response:
            return response.url, response.read().decode()

    def token(page: str, name: str = "csrfmiddlewaretoken") -> str:
        return re.search(rf'name="{name}" value="([^"]+)"', page).group(1)

    _, login = send("/accounts/login/")
    credentials = {"username": "billing.admin@acme.example", "password": "demo-billing-2026"}
    url, home = send("/accounts/login/", {**credentials, "csrfmiddlewaretoken": token(login)})
    assert url == f"{base_url}/" and "Remote Support v5" in home
    edit = re.search(r"/subscriptions/\d+/edit/", home[home.index("Remote Support v5") :])
    _, page = send(edit.group(0))
    url, cart = send(edit.group(0), {"seats": "7", "add": "1", "csrfmiddlewaretoken": token(page)})
    assert "10 → 7" in cart, url
    _, review = send("/checkout/")
    assert "Place order" in review and "Total due" in review
    return send(
        "/checkout/place/",
        {"review": token(review, "review"), "csrfmiddlewaretoken": token(review)},
    )


def test_the_demo_on_sqlite_takes_a_seat_change_from_sign_in_to_order(local_environment):
    """The whole self-service flow on `make run`'s database (SQLite), not only PostgreSQL."""
    assert manage(local_environment, "migrate", "--noinput").returncode == 0
    assert manage(local_environment, "seed_demo").returncode == 0
    with serving(local_environment, runserver) as server:
        answered = first_answer(f"{server.url}/accounts/login/")
        assert answered is not None, "runserver did not answer"
        url, placed = place_the_demo_order(server.url)
        assert "/orders/BC-" in url and "Your order is placed" in placed
        assert re.search(r'href="/invoices/\d{4}-\d{6}\.pdf"', placed), "no invoice link"
    assert "Traceback" not in server.errors


def test_make_run_links_email_to_the_port_it_serves(local_environment, tmp_path):
    """`PORT=… make run`: the confirmation email (printed to the console) links to that port.

    The real Makefile target (migrate, seed_demo, runserver with its reloader), minus
    creating the virtualenv (``-o``: the installed one counts as up to date).
    """
    port = free_port()
    console = tmp_path / "make-run.out"
    env = {**local_environment, "PYTHONUNBUFFERED": "1"}  # the email reaches the file at once
    with console.open("w") as output:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "-o", ".venv/.installed", "run", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # runserver's reloader and its child stop with make
        )
    try:
        answered = first_answer(f"http://127.0.0.1:{port}/accounts/login/", attempts=600)
        assert answered is not None, console.read_text()
        url, _ = place_the_demo_order(f"http://127.0.0.1:{port}")
        for _ in range(100):
            if "See your order:" in console.read_text():
                break
            time.sleep(0.1)
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        try:
            make.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)  # a reloader caught between restarts
            make.wait(timeout=10)
    printed = console.read_text()
    number = url.rstrip("/").rsplit("/", 1)[-1]
    assert f"See your order: http://127.0.0.1:{port}/orders/{number}/" in printed, printed
    assert ":8000" not in printed


def test_make_run_tolerates_a_second_start(local_environment):
    for _ in range(2):
        assert manage(local_environment, "migrate", "--noinput").returncode == 0
        assert manage(local_environment, "seed_demo").returncode == 0


def test_production_settings_serve_pages_and_static_files(tmp_path):
    """DEBUG off, as in docker-compose: collectstatic, gunicorn, WhiteNoise."""
    env = {
        "PATH": os.environ["PATH"],
        "DEBUG": "0",
        "SECRET_KEY": "a-production-like-secret-key-for-this-test-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        done = manage(env, *command)
        assert done.returncode == 0, done.stderr
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")

    def command(port: int) -> list[str]:
        return [gunicorn, "billing_portal.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"]

    with serving(env, command) as server:
        answer = first_answer(f"{server.url}/accounts/login/")
        assert answer is not None, "gunicorn did not answer"
        page = answer[1]
        stylesheet = re.search(r'href="(/static/css/portal\.[0-9a-f]+\.css)"', page)
        assert stylesheet, "static files are not served under their hashed names"
        with urllib.request.urlopen(f"{server.url}{stylesheet.group(1)}", timeout=2) as r:
            assert r.status == 200
