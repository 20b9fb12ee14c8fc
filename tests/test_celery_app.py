"""The Celery app: JSON only, late acks, and a real round trip through Redis."""

from __future__ import annotations

import uuid

import pytest
from kombu import Connection, Exchange, Queue

from billing_portal import celery_app


def test_tasks_are_json_only_and_acknowledged_late():
    conf = celery_app.conf
    assert conf.accept_content == ["json"]
    assert (conf.task_serializer, conf.result_serializer) == ("json", "json")
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1


def test_without_a_broker_tasks_run_in_process(settings):
    # `make test` sets no CELERY_BROKER_URL: tasks run eagerly, as in `make run`.
    assert settings.CELERY_TASK_ALWAYS_EAGER is True
    assert celery_app.conf.task_always_eager is True


@pytest.mark.redis
def test_a_message_goes_through_the_real_redis_broker(redis_url):
    """What the worker will read: a JSON message published to and consumed from Redis."""
    queue = Queue(
        f"test-{uuid.uuid4().hex}", Exchange("test-portal", type="direct"), routing_key="t"
    )
    received = []
    with Connection(redis_url, connect_timeout=3) as connection:
        producer = connection.Producer(serializer="json")
        producer.publish(
            {"order_id": 42}, exchange=queue.exchange, routing_key="t", declare=[queue]
        )
        with connection.Consumer(
            queue, callbacks=[lambda body, msg: (received.append(body), msg.ack())]
        ):
            connection.drain_events(timeout=5)
        queue(connection.channel()).delete()
    assert received == [{"order_id": 42}]
