"""Issue #6, item 11: the broker refusing connections, and the broker black-holed.

Either way Place order answers within 3 seconds (the bound the issue sets) with the
order placed and its email pending; the sweeper operations run
(`manage.py dispatch_pending_emails`) later delivers it through a real SMTP server,
exactly once, and a second sweep sends nothing. tests/delivery has the worker side
(a refused broker swept by the worker's beat task, a black hole timed with a socket that
never accepts); this adds the page, a broker that accepts and then never answers, and
the sweep run twice.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import time_machine
from django.urls import reverse

from checkout.models import Order
from tests.delivery import conftest as delivery
from tests.delivery.harness import SETTLE, celery_publishing_to, manage
from tests.shared_fixtures import AT, put_in_cart

pytestmark = [pytest.mark.django_db(transaction=True)]

# A real SMTP sink on loopback and the EU VAT rates back in a transactional test
# (tests/delivery/conftest.py).
smtp_sink = delivery.smtp_sink
vat_rates = delivery.vat_rates

PLACE_ORDER_WITHIN_SECONDS = 3.0  # issue #6, item 11


@contextmanager
def refusing_broker() -> Iterator[str]:
    """Nothing listens on the broker's port: every connection is refused at once."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))  # bound, not listening: the port stays ours and closed
        yield f"redis://127.0.0.1:{held.getsockname()[1]}/0"


@contextmanager
def black_holed_broker() -> Iterator[str]:
    """Accepts every TCP connection and never sends a byte back."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_ignore() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept_and_ignore, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join(5)
        for connection in held:
            connection.close()
        listener.close()
    assert held, "the portal never connected to the black hole"


OUTAGES = {"refusing connections": refusing_broker, "black-holed": black_holed_broker}


def place_order_on_the_page(client, admin) -> tuple[object, float]:
    """The admin reviews and presses Place order; returns the answer and how long it took."""
    client.force_login(admin)
    page = client.get(reverse("checkout:review")).content.decode()
    token = re.search(r'name="review" value="([^"]+)"', page).group(1)
    started = time.monotonic()
    response = client.post(reverse("checkout:place"), {"review": token})
    return response, time.monotonic() - started


@pytest.mark.parametrize("outage", list(OUTAGES))
def test_place_order_answers_in_time_and_the_sweeper_sends_the_email_once(
    client, admin, account, remote_support, vat_rates, smtp_sink, outage
):
    with time_machine.travel(AT, tick=True):
        put_in_cart(remote_support, 7)
        with OUTAGES[outage]() as broker_url, celery_publishing_to(broker_url):
            response, took = place_order_on_the_page(client, admin)
        assert took < PLACE_ORDER_WITHIN_SECONDS, f"Place order took {took:.2f} s ({outage})"
        order = Order.objects.get()
        assert response.status_code == 302
        assert response["Location"] == reverse("checkout:order", args=[order.number])
        page = client.get(response["Location"]).content.decode()
    assert "Your order is placed" in page and "A confirmation email will follow." in page
    assert order.email_status == Order.EmailStatus.PENDING
    assert smtp_sink.inbox.received() == []

    # Later, the sweep operations run (beat runs the same every minute).
    swept = manage("dispatch_pending_emails", "--older-than", "0", smtp_sink=smtp_sink)
    assert swept.returncode == 0, swept.stderr
    assert "1 pending confirmation email(s): 1 sent" in swept.stdout
    message = smtp_sink.inbox.exactly_one()
    assert message["To"] == "anna@acme.example"
    assert message["Subject"] == f"Your order {order.number} is confirmed"
    assert "Total charged: €274.89" in message.get_body(preferencelist=("plain",)).get_content()
    order.refresh_from_db()
    assert order.email_status == Order.EmailStatus.SENT and order.email_sent_at is not None

    again = manage("dispatch_pending_emails", "--older-than", "0", smtp_sink=smtp_sink)
    assert again.returncode == 0, again.stderr
    assert "0 pending confirmation email(s)" in again.stdout
    time.sleep(SETTLE)  # a second email would have arrived by now
    assert len(smtp_sink.inbox.received()) == 1
