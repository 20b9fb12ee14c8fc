"""A renewal waiting for 3-D Secure when several things happen at once: the page, a
retry, a webhook and Stripe's own report race to one order; credit an earlier failed
attempt held comes back; a request the broker lost is sent once; stale links do no harm."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from checkout.models import Order
from payments.gateways import SandboxGateway
from payments.models import Payment, PaymentMethod
from renewals.run import subscriptions_renew
from renewals.tasks import renewal_authentication_requests_dispatch
from subscriptions.credit import credit_balance
from subscriptions.models import Subscription
from tests.factories import MembershipFactory, PaymentMethodFactory
from tests.renewals.conftest import (
    DEC_1,
    JAN_1,
    eur,
    give_credit,
    page_url,
    subscribe,
)

pytestmark = pytest.mark.django_db


def test_credit_held_by_an_authentication_stripe_reported_failed_is_given_back(acme):
    from payments.webhooks import stripe_event_handle

    give_credit(acme, "100.00")
    PaymentMethod.objects.filter(account=acme).update(last4="3155")
    subscribe(acme)
    with time_machine.travel(DEC_1, tick=False):
        subscriptions_renew(at=DEC_1)
    payment = Payment.objects.get()
    stripe_event_handle(
        event_id="evt_authentication_failed",
        event_type="payment_intent.payment_failed",
        created=DEC_1 + timedelta(hours=1),
        payload={
            "data": {
                "object": {
                    "id": payment.reference,
                    "last_payment_error": {"code": "payment_intent_authentication_failure"},
                }
            }
        },
    )
    assert Payment.objects.get().status == "failed"

    PaymentMethod.objects.filter(account=acme).update(last4="4242")
    retry = DEC_1 + timedelta(days=1)
    with time_machine.travel(retry, tick=False):
        assert subscriptions_renew(at=retry).renewed == 1
    order = Order.objects.get()
    assert (order.credit_applied, order.amount_due) == (eur("100.00"), eur("399.80"))
    assert credit_balance(acme) == eur("0.00")


def test_a_request_the_broker_lost_is_sent_by_the_sweeper_once(acme, mailoutbox):
    PaymentMethod.objects.filter(account=acme).update(last4="3155")
    subscribe(acme)
    with time_machine.travel(DEC_1, tick=False):
        subscriptions_renew(at=DEC_1)  # the test's transaction never commits: no task ran
    payment = Payment.objects.get()
    assert payment.authentication_requested_at is None and mailoutbox == []

    sweep = DEC_1 + timedelta(minutes=10)
    with time_machine.travel(sweep, tick=False):
        assert renewal_authentication_requests_dispatch(older_than=timedelta(minutes=5)) == {
            payment.pk: "sent"
        }
        assert renewal_authentication_requests_dispatch(older_than=timedelta(0)) == {}
    assert [message.to for message in mailoutbox] == [["anna@acme.example"]]
    assert page_url(payment) in mailoutbox[0].body
    payment.refresh_from_db()
    assert payment.authentication_requested_at == sweep


def test_the_checkout_authentication_page_sends_a_renewal_payment_to_its_own_page(waiting, anna):
    payment = Payment.objects.get()
    old_page = reverse("checkout:authenticate", args=[payment.pk])
    assert anna.get(old_page)["Location"] == page_url(payment)
    assert anna.post(old_page, {"outcome": "authenticated"})["Location"] == page_url(payment)
    assert not Order.objects.exists()
    assert Payment.objects.get().status == "requires_action"


def test_the_customer_failing_it_while_a_retry_asks_the_bank_stays_failed(acme):
    """The run's answer from before the customer's is not written over theirs."""
    from renewals.payments import RenewalPaymentFailed, renewal_payment_authenticate

    give_credit(acme, "100.00")
    PaymentMethod.objects.filter(account=acme).update(last4="3155")
    subscription = subscribe(acme)
    with time_machine.travel(DEC_1, tick=False):
        subscriptions_renew(at=DEC_1)

    class CustomerMeanwhile(SandboxGateway):
        def retrieve(self, *, payment):
            answer = super().retrieve(payment=payment)  # still waiting, as the bank saw it
            with pytest.raises(RenewalPaymentFailed):
                renewal_payment_authenticate(payment=payment, authenticated=False, gateway=self)
            return answer

    retry = DEC_1 + timedelta(days=1)
    with time_machine.travel(retry, tick=False):
        subscriptions_renew(at=retry, gateway=CustomerMeanwhile())

    # The failed payment stays failed; the retry that was due charges anew (and the bank
    # asks again), with the credit the failed one gave back.
    first, second = Payment.objects.order_by("pk")
    assert (first.status, first.failure_reason) == ("failed", "authentication_failed")
    assert (second.status, second.amount) == ("requires_action", eur("399.80"))
    assert second.idempotency_key.endswith(":2")
    assert credit_balance(acme) == eur("0.00")
    assert not Order.objects.exists()
    subscription.refresh_from_db()
    assert (subscription.status, subscription.renewal_attempts) == ("past_due", 2)


def test_the_page_twice_the_webhook_and_a_retry_at_once_record_one_order(transactional_db):
    """Five threads, five database connections, one waiting payment: one order."""
    import threading

    from django.db import connection

    from payments.webhooks import stripe_event_handle
    from renewals.payments import renewal_payment_authenticate

    membership = MembershipFactory(account__name="Acme GmbH", account__country="DE")
    PaymentMethodFactory(account=membership.account, last4="3155")
    subscription = subscribe(membership.account)
    with time_machine.travel(DEC_1, tick=False):
        subscriptions_renew(at=DEC_1)
    payment = Payment.objects.get()
    assert payment.status == "requires_action"

    retry = DEC_1 + timedelta(days=1)
    start, results, errors = threading.Barrier(5), [], []

    def act(what):
        try:
            start.wait()
            if what == "page":
                results.append(renewal_payment_authenticate(payment=payment, authenticated=True).pk)
            elif what == "webhook":
                stripe_event_handle(
                    event_id="evt_paid",
                    event_type="payment_intent.succeeded",
                    created=retry,
                    payload={"data": {"object": {"id": payment.reference}}},
                )
            else:
                subscriptions_renew(at=retry, overlap=False)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    with time_machine.travel(retry, tick=False):
        threads = [
            threading.Thread(target=act, args=(what,))
            for what in ("page", "page", "page", "webhook", "run")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    order = Order.objects.get()
    assert results == [order.pk] * 3
    assert list(Payment.objects.values_list("status", "order")) == [("succeeded", order.pk)]
    subscription.refresh_from_db()
    assert (subscription.status, subscription.current_period_end) == ("active", JAN_1)


def test_a_subscription_canceled_meanwhile_is_not_brought_back(waiting, anna):
    Subscription.objects.filter(pk=waiting.pk).update(status=Subscription.Status.CANCELED)
    payment = Payment.objects.get()
    with time_machine.travel(DEC_1 + timedelta(hours=1), tick=False):
        answer = anna.post(page_url(payment), {"outcome": "authenticated"}, follow=True)
    assert "nothing was renewed and the payment was given back" in answer.content.decode()
    assert not Order.objects.exists()
    waiting.refresh_from_db()
    assert (waiting.status, waiting.current_period_end) == ("canceled", DEC_1)
    # Money taken for a renewal that no longer holds is not kept.
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED


def test_the_link_of_an_earlier_failed_attempt_leaves_the_newer_ones_credit(acme, anna):
    give_credit(acme, "100.00")
    PaymentMethod.objects.filter(account=acme).update(last4="3155")
    subscribe(acme)
    with time_machine.travel(DEC_1, tick=False):
        subscriptions_renew(at=DEC_1)
    first = Payment.objects.get()
    anna.post(page_url(first), {"outcome": "failed"})
    retry = DEC_1 + timedelta(days=1)
    with time_machine.travel(retry, tick=False):
        subscriptions_renew(at=retry)  # the bank asks again: a second link
    second = Payment.objects.exclude(pk=first.pk).get()
    assert (second.status, second.amount) == ("requires_action", eur("399.80"))

    # The first email's link again: over, and the credit stays with the second attempt.
    answer = anna.post(page_url(first), {"outcome": "authenticated"}, follow=True)
    assert "The payment was not authenticated" in answer.content.decode()
    assert credit_balance(acme) == eur("0.00")

    anna.post(page_url(second), {"outcome": "authenticated"})
    order = Order.objects.get()
    assert (order.credit_applied, order.amount_due) == (eur("100.00"), eur("399.80"))
    assert credit_balance(acme) == eur("0.00")
