"""`make bench`'s pieces, small and not timed: the floor views, the load client, the check.

The benchmark itself (bench/run.py) is run by `make bench`, never here; these tests
make sure the floor views cost what docs/benchmarks.md says they cost, that the load client
reads responses and counts outcomes correctly, and that a real checkout round through
a live server ends in orders that the benchmark's own check accepts, and a doctored one
that it refuses.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.floor import FloorCounter, FloorLog, floor_tables_create, floor_tables_drop
from bench.flows import checkout_place, checkout_prepare, floor_write, page_get
from bench.loadgen import (
    CSRF_INPUT,
    Connection,
    CookieJar,
    Recorder,
    form_value,
    parse_head,
    run_jobs,
)
from checkout.models import Order
from payments.models import Payment
from subscriptions.models import Subscription


@pytest.fixture
def bench_urls(settings):
    settings.ROOT_URLCONF = "bench.urls"
    settings.SECURE_SSL_REDIRECT = False


def run_apart(coroutine):
    """``asyncio.run`` in a thread of its own: a browser test earlier in the run may
    leave an event loop running in this one (Playwright's sync API)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _statements(queries) -> list[str]:
    """The SQL a view sent, without the savepoints the test's transaction adds."""
    return [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]


# -- The floor views -------------------------------------------------------------------------


def test_read_floor_is_signed_in_and_three_queries_of_its_own(bench_urls, client, admin, account):
    client.force_login(admin)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/bench/floor/read/")
    assert response.status_code == 200
    assert "anna@acme.example" in response.text and account.name in response.text
    statements = _statements(queries)
    assert len(statements) == 5  # session, user, then account, subscriptions, card
    assert "django_session" in statements[0] and "subscriptions_user" in statements[1]


def test_read_floor_sends_a_visitor_to_sign_in(bench_urls, client):
    response = client.get("/bench/floor/read/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_write_floor_locks_inserts_and_updates_one_row_in_one_transaction(
    bench_urls, client, admin
):
    floor_tables_create(3)
    client.force_login(admin)
    with CaptureQueriesContext(connection) as queries:
        first = client.post("/bench/floor/write/?row=2")
        second = client.post("/bench/floor/write/?row=2")
    assert first["Location"] == "/bench/floor/read/?row=2&hits=1"
    assert second["Location"] == "/bench/floor/read/?row=2&hits=2"
    assert dict(FloorCounter.objects.values_list("id", "hits")) == {1: 0, 2: 2, 3: 0}
    assert FloorLog.objects.filter(counter_id=2).count() == 2
    own = [sql for sql in _statements(queries) if "bench_floor" in sql]
    assert len(own) == 6  # per request: one SELECT … FOR UPDATE, one INSERT, one UPDATE
    assert own[0].startswith("SELECT") and own[0].endswith("FOR UPDATE")
    assert own[1].startswith("INSERT") and own[2].startswith("UPDATE")


def test_write_floor_refuses_what_a_real_write_refuses(bench_urls, admin):
    floor_tables_create(1)
    assert Client().post("/bench/floor/write/?row=1").status_code == 302  # to sign in
    signed_in = Client(enforce_csrf_checks=True)
    signed_in.force_login(admin)
    assert signed_in.post("/bench/floor/write/?row=1").status_code == 403  # no CSRF token
    assert signed_in.get("/bench/floor/write/?row=1").status_code == 405
    plain = Client()
    plain.force_login(admin)
    assert plain.post("/bench/floor/write/?row=9").status_code == 404  # no such row
    assert FloorLog.objects.count() == 0
    assert FloorCounter.objects.get().hits == 0


# -- The load client ---------------------------------------------------------------------------

CANNED = {
    b"/length": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: csrftoken=abc; Path=/\r\n"
        b'Set-Cookie: sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\nhello'
    ),
    b"/chunked": (
        b"HTTP/1.1 302 Found\r\nLocation: /orders/BC-20261126-AB12/\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
    ),
    b"/close": b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\nbusy",
}


async def _canned_server(connections: list[int]):
    async def answer(reader, writer):
        connections.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ")[1]
                length = [
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ]
                if length:
                    await reader.readexactly(length[0])
                writer.write(CANNED[path])
                await writer.drain()
                if path == b"/close":
                    break
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


def test_load_client_reads_lengths_chunks_and_closes_and_keeps_cookies():
    connections: list[int] = []

    async def scenario():
        server = await _canned_server(connections)
        port = server.sockets[0].getsockname()[1]
        client = Connection("127.0.0.1", port)
        jar = CookieJar({"sessionid": "old"})
        first = await client.request("GET", "/length", jar=jar)
        second = await client.request("POST", "/chunked", jar=jar, form={"a": "1 2"})
        third = await client.request("GET", "/close", jar=jar)
        fourth = await client.request("GET", "/length")
        client.close()
        server.close()
        await server.wait_closed()
        return jar, first, second, third, fourth

    jar, first, second, third, fourth = run_apart(scenario())
    assert (first.status, first.body) == (200, b"hello")
    assert jar.cookies == {"csrftoken": "abc"}  # the emptied session cookie is dropped
    assert (second.status, second.body, second.location) == (
        302,
        b"abcde",
        "/orders/BC-20261126-AB12/",
    )
    assert (third.status, third.body) == (503, b"busy")
    assert fourth.body == b"hello"
    assert len(connections) == 2  # kept alive for three requests, reopened after the close


def test_parse_head_and_form_values():
    status, version, headers, cookies = parse_head(
        b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nSet-Cookie: a=1; HttpOnly"
    )
    assert (status, version, headers, cookies) == (
        404,
        "HTTP/1.1",
        {"content-type": "text/html"},
        {"a": "1"},
    )
    page = b'<input type="hidden" name="csrfmiddlewaretoken" value="x&amp;y">'
    assert form_value(CSRF_INPUT, page) == "x&y"
    assert form_value(CSRF_INPUT, b"<p>no form</p>") == ""


def test_recorder_counts_failures_and_nearest_rank_percentiles():
    class Answer:
        def __init__(self, status, seconds):
            self.status, self.seconds = status, seconds

    recorder = Recorder()
    for n in range(1, 21):  # 1 … 20 ms
        recorder.record("place", Answer(302, n / 1000), ok=n != 7, why="HTTP 409")
    assert recorder.count("place") == 20
    assert recorder.failed("place") == 1 and recorder.failures["place"]["HTTP 409"] == 1
    assert recorder.percentile("place", 0.5) == 0.010
    assert recorder.percentile("place", 0.95) == 0.019
    assert recorder.statuses["place"][302] == 20


# -- A real round through a live server --------------------------------------------------------


@pytest.fixture
def floor_tables_dropped_after():
    """A transactional test commits the floor's tables; Django's flush does not know them."""
    yield
    floor_tables_drop()


@pytest.mark.django_db(transaction=True)
def test_a_checkout_round_places_real_orders_the_check_accepts(
    bench_urls, live_server, floor_tables_dropped_after
):
    from bench.population import seed, verify

    population = seed(place_accounts=3, read_accounts=2, now=timezone.now())
    admins = [account.admin() for account in population.place]
    started_with = {admin.subscription_id: admin.seats for admin in admins}
    address = urlsplit(live_server.url)
    host, port = address.hostname, address.port
    recorder = Recorder()

    def jobs(step):
        return [lambda connection, a=a: step(connection, a, recorder) for a in admins]

    async def two_rounds():
        for _ in range(2):
            await run_jobs(host, port, 2, jobs(checkout_prepare))
            await run_jobs(host, port, 2, jobs(checkout_place))
            await run_jobs(host, port, 2, jobs(floor_write))
        readers = [CookieJar({"sessionid": key}) for key in population.read]
        for label in ("billing_center", "review", "floor_read"):
            for jar in readers:
                await page_get(Connection(host, port), jar, label, recorder)

    run_apart(two_rounds())
    assert recorder.failures == {}
    assert recorder.count("place") == 6 and recorder.statuses["place"] == {302: 6}
    assert recorder.statuses["billing_center"] == {200: 2}
    assert recorder.statuses["review"] == {200: 2}
    assert Order.objects.count() == 6
    assert Payment.objects.filter(status=Payment.Status.SUCCEEDED).count() == 6
    for subscription_id, seats in started_with.items():
        assert Subscription.objects.get(pk=subscription_id).seats == seats + 2

    report = verify(admins=admins, floor_requests=6)
    assert report["problems"] == []
    assert report["orders"] == 6 and report["licenses_added"] == 6

    # A redirect the client counted that the database does not hold is caught.
    admins[0].orders.append("BC-20261126-00000000")
    admins[1].seats += 1
    doctored = verify(admins=admins, floor_requests=7)
    assert any("7 orders seen by the client, 6 in the database" in p for p in doctored["problems"])
    assert any("subscriptions without the licenses" in p for p in doctored["problems"])
    assert any(p.startswith("floor:") for p in doctored["problems"])


# -- Scaling (bench/scaling.py) ----------------------------------------------------------------


@pytest.mark.django_db
def test_scaling_accounts_show_every_subscription_in_the_same_queries(client):
    from bench.population import seed_billing_center
    from bench.scaling import MARKER

    admins = seed_billing_center(sizes=(1, 10), now=timezone.now())
    counts = {}
    for size, user in admins.items():
        client.force_login(user)
        client.get("/")  # the first request of a session may warm caches
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/")
        assert response.status_code == 200
        assert response.content.count(MARKER) == size
        counts[size] = len(_statements(queries))
    assert counts[1] == counts[10]


def test_scaling_rows_compare_each_size_with_the_smallest():
    from bench.report import scaling_figures, table
    from bench.scaling import markdown_tables, scaling_ok

    scaling = {
        "renewals": [
            {"subscriptions": 10_000, "subscriptions_per_second": 2000.0, "peak_rss_mb": 90.0},
            {"subscriptions": 100_000, "subscriptions_per_second": 1800.0, "peak_rss_mb": 99.0},
        ],
        "billing_center": [
            {"subscriptions": 1, "median_ms": 10.0, "queries": 6},
            {"subscriptions": 100, "median_ms": 40.0, "queries": 6},
            {"subscriptions": 10, "error": "measurement failed"},
        ],
    }
    rows = {row.name.strip(): row for row in scaling_figures(scaling)}
    assert rows["Renewals of 100,000 (subscriptions/s)"].ratio == pytest.approx(0.9)
    assert rows["peak RSS at 100,000"].ratio == pytest.approx(1.1)
    assert rows["Billing Center, 100 subscriptions (median)"].ratio == pytest.approx(4.0)
    assert rows["queries, 100 subscriptions"].value == 6
    assert all(row.passed is None for row in rows.values())  # no targets, information only
    assert "6" in table(list(rows.values()))
    assert not scaling_ok(scaling)
    assert "| 100,000 | 1,800/s | 99 MB |" in markdown_tables(scaling)
