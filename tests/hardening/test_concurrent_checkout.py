"""Issue #6, hardening 1: twenty Place order clicks for one checkout, at the same instant.

Real threads, each with its own database connection, through the real view
(Django's test client, one signed-in session, one signed review) on
PostgreSQL with committed transactions: the billing admin gets one order,
one charge and one confirmation email, and every click is answered with that
order or a clear message, never an error page.
"""

from __future__ import annotations

import re
import threading
from collections import Counter

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse

from checkout import services
from checkout.models import CartLine, Order
from payments.gateways import SandboxGateway
from payments.models import Payment
from subscriptions.models import CreditLedgerEntry, SeatChange
from tests.factories import (
    MembershipFactory,
    PaymentMethodFactory,
    SeatAssignmentFactory,
    SubscriptionFactory,
)
from tests.shared_fixtures import AT, NOV_1, put_in_cart

CLICKS = 20


class CountingSandbox(SandboxGateway):
    """The sandbox gateway, counting the charges it was asked to confirm."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.confirmed: list[str] = []

    def confirm(self, *, payment):
        result = super().confirm(payment=payment)
        with self.lock:
            self.confirmed.append(payment.idempotency_key)
        return result


def _review_token(page: str) -> str:
    match = re.search(r'name="review" value="([^"]+)"', page)
    assert match, "the review page offers no Place order"
    return match.group(1)


def _click_all(clients: list[Client], review: str) -> list:
    """POST Place order from every client at once; return (status, location, body) each."""
    barrier = threading.Barrier(len(clients))
    answers: list = [None] * len(clients)

    def click(index: int, client: Client) -> None:
        try:
            barrier.wait(timeout=30)
            response = client.post(reverse("checkout:place"), {"review": review})
            answers[index] = (
                response.status_code,
                response.get("Location", ""),
                response.content.decode(),
            )
        except Exception as error:  # reported as the click's answer
            answers[index] = ("exception", repr(error), "")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=click, args=(index, client)) for index, client in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a Place order request hung"
    return answers


@pytest.fixture
def counting_gateway(monkeypatch) -> CountingSandbox:
    gateway = CountingSandbox()
    monkeypatch.setattr(services, "get_gateway", lambda: gateway)
    return gateway


def _same_session_clients(user, count: int) -> list[Client]:
    """``count`` browsers tabs of one signed-in session (one session cookie)."""
    first = Client(raise_request_exception=False)
    first.force_login(user)
    clients = [first]
    for _ in range(count - 1):
        client = Client(raise_request_exception=False)
        client.cookies[settings.SESSION_COOKIE_NAME] = first.cookies[
            settings.SESSION_COOKIE_NAME
        ].value
        clients.append(client)
    return clients


@pytest.mark.parametrize(
    ("new_seats", "charged"),
    [(7, "274.89"), (15, "674.73")],
    ids=["fewer-licenses", "more-licenses"],
)
def test_twenty_simultaneous_place_order_clicks_make_one_order_one_charge_one_email(
    transactional_db, counting_gateway, new_seats, charged
):
    assert settings.CELERY_TASK_ALWAYS_EAGER, "the email is counted as the eager task sends it"
    membership = MembershipFactory(account__name="Acme GmbH", account__country="DE")
    account, admin = membership.account, membership.user
    PaymentMethodFactory(account=account)
    mail.outbox = []
    with time_machine.travel(AT, tick=False):
        subscription = SubscriptionFactory(
            account=account, plan__product__name="Remote Support v5", seats=10, billing_anchor=NOV_1
        )
        for _ in range(3):
            SeatAssignmentFactory(subscription=subscription)
        put_in_cart(subscription, new_seats)
        clients = _same_session_clients(admin, CLICKS)
        page = clients[0].get(reverse("checkout:review")).content.decode()
        review = _review_token(page)

        answers = _click_all(clients, review)

        order = Order.objects.get()
        receipt = reverse("checkout:order", args=[order.number])
        kinds = Counter()
        for status, location, body in answers:
            assert status != "exception", location
            if status == 302:
                assert location == receipt  # every click that placed lands on the one order
                kinds["order"] += 1
            else:
                # Still paying after the wait, or told what happened: never an error page.
                assert status in (409, 503), (status, body[:300])
                assert "Nothing was ordered" in body or "nothing was charged twice" in body
                kinds["message"] += 1
        assert kinds["order"] >= 1
        confirmation = clients[0].get(receipt).content.decode()

    # One order, one charge, one email: what the admin and finance would check.
    assert Order.objects.count() == 1
    assert str(order.amount_due.amount) == charged
    payments = list(Payment.objects.all())
    assert [(p.status, p.order_id, str(p.amount.amount)) for p in payments] == [
        (Payment.Status.SUCCEEDED, order.pk, charged)
    ]
    assert len(counting_gateway.confirmed) == 1
    assert list(SeatChange.objects.values_list("from_seats", "to_seats")) == [(10, new_seats)]
    subscription.refresh_from_db()
    assert (subscription.seats, subscription.version) == (new_seats, 2)
    assert not CartLine.objects.exists()
    assert CreditLedgerEntry.objects.count() == 0
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [admin.email]
    assert order.number in mail.outbox[0].subject + mail.outbox[0].body
    order.refresh_from_db()
    assert order.email_status == Order.EmailStatus.SENT
    assert f"10 → {new_seats} licenses" in confirmation


def test_twenty_simultaneous_clicks_on_a_declined_card_charge_nothing_and_keep_the_cart(
    transactional_db, counting_gateway
):
    """The card is declined once; no click retries the charge or places anything."""
    membership = MembershipFactory(account__name="Acme GmbH", account__country="DE")
    account, admin = membership.account, membership.user
    PaymentMethodFactory(account=account, last4="0002")
    mail.outbox = []
    with time_machine.travel(AT, tick=False):
        subscription = SubscriptionFactory(account=account, seats=10, billing_anchor=NOV_1)
        put_in_cart(subscription, 15)
        clients = _same_session_clients(admin, CLICKS)
        review = _review_token(clients[0].get(reverse("checkout:review")).content.decode())
        answers = _click_all(clients, review)

    statuses = Counter(status for status, _, _ in answers)
    assert set(statuses) <= {402, 409, 503}, statuses
    for status, _, body in answers:
        if status == 402:
            assert "Your card was declined." in body
    assert statuses[402] >= 1
    # The bank was asked once: the other clicks got its answer, not a charge attempt each.
    assert len(counting_gateway.confirmed) == 1
    assert Payment.objects.get().status == Payment.Status.FAILED
    assert not Order.objects.exists() and not SeatChange.objects.exists()
    assert not Payment.objects.filter(status=Payment.Status.SUCCEEDED).exists()
    assert CartLine.objects.get().new_seats == 15
    subscription.refresh_from_db()
    assert subscription.seats == 10
    assert mail.outbox == []
