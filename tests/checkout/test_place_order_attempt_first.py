"""The payment attempt is on record before any gateway is asked to do anything.

A gateway that registers payments remotely (Stripe) is asked only after the
attempt row is committed, so a crash in between leaves an attempt a retry or
the sweep finds. The sandbox's reference needs nobody: it is written with the
attempt itself, and a retry after a lost answer reuses it.
"""

from __future__ import annotations

import pytest
from django.db import connection
from moneyed import Money

from checkout.models import Order
from checkout.services import PaymentUnavailable
from payments.gateways import GatewayUnavailable, SandboxGateway
from payments.models import Payment
from tests.checkout.conftest import put_in_cart
from tests.checkout.helpers import place

pytestmark = pytest.mark.django_db(transaction=True)


class RemoteRegistration(SandboxGateway):
    """A gateway whose ``prepare`` goes over the network, like Stripe's."""

    prepares_locally = False

    def __init__(self) -> None:
        self.seen_at_prepare: list[tuple[bool, bool]] = []

    def prepare(self, *, payment: Payment) -> str:
        committed = Payment.objects.filter(pk=payment.pk, reference="").exists()
        self.seen_at_prepare.append((committed, connection.in_atomic_block))
        return f"remote_pi_{payment.pk}"


def test_a_remote_gateway_is_asked_only_after_the_attempt_is_committed(
    frozen_now, admin, account, remote_support
):
    put_in_cart(remote_support, 12)
    gateway = RemoteRegistration()
    order = place(account, admin, gateway=gateway)
    # On record without a reference, outside any transaction, when the gateway was asked.
    assert gateway.seen_at_prepare == [(True, False)]
    payment = Payment.objects.get()
    assert (payment.order, payment.reference, payment.status) == (
        order,
        f"remote_pi_{payment.pk}",
        "succeeded",
    )


class LostAnswer(SandboxGateway):
    """The sandbox, whose first confirm gets no answer back."""

    def __init__(self) -> None:
        self.calls = 0

    def confirm(self, *, payment: Payment):
        self.calls += 1
        if self.calls == 1:
            raise GatewayUnavailable("timed out")
        return super().confirm(payment=payment)


def test_the_sandbox_reference_is_on_record_with_the_attempt_and_reused_by_the_retry(
    frozen_now, admin, account, remote_support
):
    put_in_cart(remote_support, 12)
    gateway = LostAnswer()
    with pytest.raises(PaymentUnavailable):
        place(account, admin, gateway=gateway)
    attempt = Payment.objects.get()
    assert not Order.objects.exists()
    assert attempt.reference == SandboxGateway().prepare(payment=attempt)
    assert attempt.reference.startswith("sandbox_pi_")

    order = place(account, admin, gateway=gateway)
    payment = Payment.objects.get()  # the same attempt, finished: one payment, one reference
    assert (payment.pk, payment.reference, payment.order, payment.amount) == (
        attempt.pk,
        attempt.reference,
        order,
        order.amount_due,
    )
    assert order.amount_due > Money("0", "EUR")
