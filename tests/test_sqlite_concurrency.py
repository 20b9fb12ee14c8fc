"""`make run` on SQLite: parallel Place order posts of one review place one order and
every request gets an answer (no "database is locked" 500)."""

from __future__ import annotations

import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request

from tests import test_make_run as make_run
from tests.test_make_run import first_answer, manage, runserver, serving

local_environment = make_run.local_environment  # the fixture: make run's environment

PARALLEL = 6


def test_parallel_place_order_on_sqlite_answers_every_request(local_environment):
    assert manage(local_environment, "migrate", "--noinput").returncode == 0
    assert manage(local_environment, "seed_demo").returncode == 0
    jar = http.cookiejar.CookieJar()

    def opener():
        return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def send(path: str, form: dict | None = None) -> tuple[str, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        with opener().open(server.url + path, data=data, timeout=30) as response:
            return response.url, response.read().decode()

    def token(page: str, name: str = "csrfmiddlewaretoken") -> str:
        return re.search(rf'name="{name}" value="([^"]+)"', page).group(1)

    with serving(local_environment, runserver) as server:
        assert first_answer(f"{server.url}/accounts/login/") is not None
        _, login = send("/accounts/login/")
        credentials = {"username": "billing.admin@acme.example", "password": "demo-billing-2026"}
        send("/accounts/login/", {**credentials, "csrfmiddlewaretoken": token(login)})
        _, home = send("/")
        edit = re.search(r"/subscriptions/\d+/edit/", home[home.index("Remote Support v5") :])
        _, page = send(edit.group(0))
        send(edit.group(0), {"seats": "12", "add": "1", "csrfmiddlewaretoken": token(page)})
        _, review = send("/checkout/")
        form = urllib.parse.urlencode(
            {"review": token(review, "review"), "csrfmiddlewaretoken": token(review)}
        ).encode()
        start = threading.Barrier(PARALLEL)
        answers: list[tuple[int, str]] = []

        def place() -> None:
            start.wait(10)
            try:
                with opener().open(server.url + "/checkout/place/", data=form, timeout=60) as r:
                    answers.append((r.status, r.url))
            except urllib.error.HTTPError as error:
                answers.append((error.code, error.read().decode()[:200]))

        threads = [threading.Thread(target=place) for _ in range(PARALLEL)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        _, orders = send("/orders/")
    assert len(answers) == PARALLEL
    assert all(status < 500 for status, _ in answers), answers
    # Each answer is the one order's page (redirects followed): placed once.
    assert {url for _, url in answers if "/orders/" in url} and len(
        {url for _, url in answers if "/orders/BC-" in url}
    ) == 1, answers
    assert len(set(re.findall(r"/orders/(BC-[0-9A-F-]+)/", orders))) == 1
    assert "database is locked" not in server.errors
