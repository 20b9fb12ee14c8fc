"""The confirmation email through a real Celery worker, Redis and SMTP server: once, never lost."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest

from checkout.models import Order
from checkout.tasks import dispatch_pending_emails, pending_emails_dispatch
from tests.delivery.harness import order_status, use_broker, wait_for_status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]


def assert_is_the_confirmation_of(message, order: Order) -> None:
    assert message["To"] == "anna@acme.example"
    assert message["Subject"] == f"Your order {order.number} is confirmed"
    text = message.get_body(preferencelist=("plain",)).get_content()
    for expected in (
        order.number,
        "Remote Support v5",
        "Number of licenses: 10 → 7",
        "Total charged: €274.89",
    ):
        assert expected in text, expected
    html = message.get_body(preferencelist=("html",)).get_content()
    assert order.number in html and "€274.89" in html


def test_a_placed_order_sends_one_email_with_its_numbers(start_worker, smtp_sink, place_order):
    start_worker()
    order = place_order()
    message = smtp_sink.inbox.exactly_one()
    assert_is_the_confirmation_of(message, order)
    wait_for_status(order, Order.EmailStatus.SENT)
    assert order.email_sent_at is not None and order.email_error == ""


def test_with_the_broker_down_the_order_is_placed_and_the_sweeper_sends_it_later(
    start_worker, smtp_sink, broker, closed_port, place_order
):
    use_broker(f"redis://127.0.0.1:{closed_port}/0")
    started = time.monotonic()
    order = place_order()
    took = time.monotonic() - started
    assert took < 2.0, f"Place order took {took:.2f} s with the broker down"
    assert Order.objects.filter(pk=order.pk).exists()
    assert order_status(order) == Order.EmailStatus.PENDING
    assert smtp_sink.inbox.received() == []

    use_broker(broker.url)  # the broker is back: the worker runs the periodic sweep
    start_worker()
    # The beat schedule's task, published as beat would; no grace period, since the
    # worker's clock is the real one and the order was placed at the review's instant.
    dispatch_pending_emails.delay(older_than_seconds=0)
    assert_is_the_confirmation_of(smtp_sink.inbox.exactly_one(), order)
    wait_for_status(order, Order.EmailStatus.SENT)
    assert pending_emails_dispatch(older_than=timedelta(0)).due == []


def test_a_broker_that_never_answers_does_not_hang_place_order(broker_down, place_order):
    with socket.socket() as silent:  # accepts connections (the kernel does), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        use_broker(f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        started = time.monotonic()
        order = place_order()
        took = time.monotonic() - started
    assert took < 3.5, f"Place order took {took:.2f} s with a broker that never answers"
    assert order_status(order) == Order.EmailStatus.PENDING


def test_a_worker_killed_while_sending_leaves_the_email_to_the_next_worker(
    start_worker, smtp_sink, place_order
):
    inbox = smtp_sink.inbox
    inbox.hold_next(accept=False)  # the server has the message but has not said yes
    first = start_worker()
    order = place_order()
    assert inbox.held.wait(20), "the worker never reached the SMTP server"
    first.kill()
    inbox.release()
    assert order_status(order) == Order.EmailStatus.PENDING  # its transaction died with it

    start_worker()  # the task, never acknowledged, is delivered again
    assert_is_the_confirmation_of(inbox.exactly_one(), order)
    wait_for_status(order, Order.EmailStatus.SENT)


def test_smtp_refusing_twice_is_retried_and_delivers_once(start_worker, smtp_sink, place_order):
    smtp_sink.inbox.refuse_next(2)
    start_worker()
    order = place_order()
    assert_is_the_confirmation_of(smtp_sink.inbox.exactly_one(), order)
    assert smtp_sink.inbox.refusals == 2
    wait_for_status(order, Order.EmailStatus.SENT)
    assert order.email_error == ""


def test_smtp_refusing_for_good_marks_the_order_failed_with_the_reason(
    start_worker, smtp_sink, place_order
):
    smtp_sink.inbox.refuse_next(100)
    start_worker()
    order = place_order()
    wait_for_status(order, Order.EmailStatus.FAILED)
    assert smtp_sink.inbox.refusals == 4  # the first try and 3 retries (worker_settings)
    assert "451" in order.email_error and "Try again later" in order.email_error
    assert smtp_sink.inbox.received() == []
    # The sweeper leaves a failed email to staff.
    assert order.number not in pending_emails_dispatch(older_than=timedelta(0)).due
