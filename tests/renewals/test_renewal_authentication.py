"""A renewal whose bank asks for 3-D Secure (sandbox card 4000 0025 0000 3155 on file):
past due, an email to each billing admin, the renewal payment page, one order."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from checkout.models import Order
from payments.gateways import SandboxGateway
from payments.models import Payment, PaymentMethod
from renewals.run import renewal_token, subscriptions_renew
from renewals.tasks import renewal_authentication_requests_dispatch
from subscriptions.credit import credit_balance
from subscriptions.models import Subscription
from tests.factories import MembershipFactory
from tests.renewals.conftest import (
    DEC_1,
    JAN_1,
    NOV_1,
    CountingSandbox,
    eur,
    give_credit,
    page_url,
    subscribe,
)

pytestmark = pytest.mark.django_db


def test_the_payment_waits_for_the_customer_and_the_subscription_goes_past_due(waiting):
    payment = Payment.objects.get()
    assert (payment.status, payment.failure_reason, payment.order) == (
        "requires_action",
        "authentication_required",
        None,
    )
    assert payment.client_secret and payment.reference.startswith("sandbox_pi_")
    assert payment.checkout_token == renewal_token(waiting.pk, DEC_1)
    assert payment.amount == eur("499.80")
    assert not Order.objects.exists()
    waiting.refresh_from_db()
    assert waiting.status == Subscription.Status.PAST_DUE
    assert (waiting.past_due_since, waiting.renewal_attempts) == (DEC_1, 1)
    assert (waiting.current_period_start, waiting.current_period_end) == (NOV_1, DEC_1)


def test_each_billing_admin_is_emailed_in_their_language(waiting, mailoutbox):
    payment = Payment.objects.get()
    link = f"{settings.PORTAL_BASE_URL}/renewals/payments/{payment.pk}/"
    assert sorted(message.to[0] for message in mailoutbox) == [
        "anna@acme.example",
        "bernd@acme.example",
    ]
    english = next(m for m in mailoutbox if m.to == ["anna@acme.example"])
    german = next(m for m in mailoutbox if m.to == ["bernd@acme.example"])

    assert english.subject == "Please confirm the renewal payment for Acme GmbH"
    assert "Your bank asks you to confirm the payment that renews Remote Support v5" in (
        english.body
    )
    assert "Total due: €499.80" in english.body
    assert "Billing period: Dec. 1, 2026 – Jan. 1, 2027" in english.body
    assert "Card: Visa •••• 3155 (12/2030)" in english.body
    assert f"Confirm the payment: {link}" in english.body
    assert f'href="{link}"' in english.alternatives[0][0]

    assert german.subject == "Bitte bestätigen Sie die Zahlung für die Verlängerung von Acme GmbH"
    assert "Ihre Bank bittet Sie, die Zahlung zu bestätigen" in german.body
    assert "Fälliger Gesamtbetrag: 499,80\xa0€" in german.body
    assert "Abrechnungszeitraum: 1. Dezember 2026 – 1. Januar 2027" in german.body
    assert f"Zahlung bestätigen: {link}" in german.body

    payment.refresh_from_db()
    assert payment.authentication_requested_at == DEC_1
    # Recorded as sent: the sweeper sends nothing again.
    assert renewal_authentication_requests_dispatch(older_than=timedelta(0)) == {}
    assert len(mailoutbox) == 2


def test_the_admin_completes_it_on_the_page_and_the_renewal_is_recorded_once(
    waiting, anna, mailoutbox, django_capture_on_commit_callbacks
):
    payment = Payment.objects.get()
    mailoutbox.clear()
    with time_machine.travel(DEC_1 + timedelta(hours=3), tick=False):
        page = anna.get(page_url(payment))
        assert page.status_code == 200
        html = page.content.decode()
        assert "€499.80" in html and "Visa •••• 3155 (12/2030)" in html
        assert "Remote Support v5" in html and "Confirm payment" in html
        assert "Dec. 1, 2026 – Jan. 1, 2027" in html

        with django_capture_on_commit_callbacks(execute=True):
            done = anna.post(page_url(payment), {"outcome": "authenticated"})
        order = Order.objects.get()
        assert done["Location"] == reverse("checkout:order", args=[order.number])
        assert "the subscription is renewed" in anna.get(done["Location"]).content.decode()

        # The same button again (a double click, the back button): the same order.
        again = anna.post(page_url(payment), {"outcome": "authenticated"})
        assert again["Location"] == done["Location"]
        assert anna.get(page_url(payment))["Location"] == done["Location"]

    assert Order.objects.count() == 1
    assert (order.kind, order.number, order.amount_due, order.effective_at) == (
        "renewal",
        f"RN-20261201-{waiting.pk}",
        eur("499.80"),
        DEC_1,
    )
    assert order.payment_method_label == "Visa •••• 3155 (12/2030)"
    assert order.lines.get().new_period_end == JAN_1
    payment.refresh_from_db()
    assert (payment.status, payment.order, payment.claimed_until) == ("succeeded", order, None)
    waiting.refresh_from_db()
    assert waiting.status == Subscription.Status.ACTIVE
    assert (waiting.current_period_start, waiting.current_period_end) == (DEC_1, JAN_1)
    assert (
        waiting.past_due_since,
        waiting.renewal_attempts,
        waiting.next_renewal_attempt_at,
    ) == (None, 0, None)
    # The usual renewal confirmation, once.
    assert [message.subject for message in mailoutbox] == [
        f"Your subscription is renewed: receipt {order.number}"
    ]

    # The dunning's retry time comes: nothing is due any more, nothing is charged.
    gateway = CountingSandbox()
    with time_machine.travel(DEC_1 + timedelta(days=1), tick=False):
        summary = subscriptions_renew(at=DEC_1 + timedelta(days=1), gateway=gateway)
    assert (summary.renewed, summary.past_due, gateway.charged) == (0, 0, [])
    assert (Order.objects.count(), Payment.objects.count()) == (1, 1)


def test_the_dunning_retry_neither_charges_again_nor_makes_a_second_payment(
    waiting, anna, mailoutbox
):
    payment = Payment.objects.get()
    gateway = CountingSandbox()
    retry = DEC_1 + timedelta(days=1)
    with time_machine.travel(retry, tick=False):
        summary = subscriptions_renew(at=retry, gateway=gateway)
    assert gateway.charged == []
    assert (summary.renewed, summary.past_due) == (0, 1)
    assert list(Payment.objects.values_list("pk", "status")) == [(payment.pk, "requires_action")]
    waiting.refresh_from_db()
    assert (waiting.status, waiting.renewal_attempts) == ("past_due", 2)
    assert len(mailoutbox) == 2  # the admins were asked once

    # The link in the email still completes it.
    with time_machine.travel(retry + timedelta(hours=1), tick=False):
        anna.post(page_url(payment), {"outcome": "authenticated"})
    assert Order.objects.count() == 1
    waiting.refresh_from_db()
    assert (waiting.status, waiting.current_period_end) == ("active", JAN_1)


def test_a_failed_authentication_leaves_it_past_due_and_the_dunning_goes_on(acme, anna):
    give_credit(acme, "100.00")
    PaymentMethod.objects.filter(account=acme).update(last4="3155")
    subscription = subscribe(acme)
    with time_machine.travel(DEC_1, tick=False):
        subscriptions_renew(at=DEC_1)
    payment = Payment.objects.get()
    assert payment.amount == eur("399.80")  # the credit paid first and is held
    assert credit_balance(acme) == eur("0.00")

    with time_machine.travel(DEC_1 + timedelta(hours=1), tick=False):
        answer = anna.post(page_url(payment), {"outcome": "failed"}, follow=True)
    html = answer.content.decode()
    assert "The payment was not authenticated, so nothing was charged." in html
    assert "This payment did not go through" in html
    assert not Order.objects.exists()
    payment.refresh_from_db()
    assert (payment.status, payment.failure_reason) == ("failed", "authentication_failed")
    assert credit_balance(acme) == eur("100.00")
    subscription.refresh_from_db()
    assert (subscription.status, subscription.current_period_end) == ("past_due", DEC_1)
    assert subscription.next_renewal_attempt_at == DEC_1 + timedelta(days=1)

    # Pressing it again changes nothing; the retry charges the (new) card on file.
    anna.post(page_url(payment), {"outcome": "authenticated"})
    assert not Order.objects.exists()
    PaymentMethod.objects.filter(account=acme).update(last4="4242")
    retry = DEC_1 + timedelta(days=1)
    with time_machine.travel(retry, tick=False):
        assert subscriptions_renew(at=retry).renewed == 1
    order = Order.objects.get()
    assert (order.credit_applied, order.amount_due) == (eur("100.00"), eur("399.80"))
    assert credit_balance(acme) == eur("0.00")
    assert list(Payment.objects.order_by("pk").values_list("status", flat=True)) == [
        "failed",
        "succeeded",
    ]


def test_another_accounts_admin_gets_not_found(waiting, client):
    payment = Payment.objects.get()
    client.force_login(MembershipFactory(account__name="Other GmbH").user)
    assert client.get(page_url(payment)).status_code == 404
    assert client.post(page_url(payment), {"outcome": "authenticated"}).status_code == 404
    assert not Order.objects.exists()
    assert Payment.objects.get().status == "requires_action"


def test_a_member_who_is_no_billing_admin_cannot_complete_it(waiting, client, acme):
    from subscriptions.models import Membership

    member = MembershipFactory(account=acme, role=Membership.Role.MEMBER).user
    client.force_login(member)
    answer = client.post(page_url(Payment.objects.get()), {"outcome": "authenticated"})
    assert answer.status_code == 403
    assert not Order.objects.exists()


def test_an_admin_of_two_accounts_completes_it_in_the_account_chosen(waiting, client, acme):
    """A link never acts on an account other than the one in the header."""
    other = MembershipFactory(account__name="Aaa Other GmbH", user__email="anna2@acme.example")
    MembershipFactory(account=acme, user=other.user)
    client.force_login(other.user)
    client.post(reverse("billing_center:switch_account"), {"account": other.account_id})
    payment = Payment.objects.get()
    assert client.get(page_url(payment)).status_code == 404
    assert client.post(page_url(payment), {"outcome": "authenticated"}).status_code == 404
    assert not Order.objects.exists()

    client.post(reverse("billing_center:switch_account"), {"account": acme.pk})
    assert client.get(page_url(payment)).status_code == 200
    assert client.post(page_url(payment), {"outcome": "authenticated"}).status_code == 302
    assert Order.objects.get().account == acme


def test_the_customer_completing_it_while_a_retry_asks_the_bank_is_recorded_once(waiting):
    """The page wins the race: the run's record step finds the period renewed and keeps out."""
    from renewals.payments import renewal_payment_authenticate

    class CustomerMeanwhile(SandboxGateway):
        def retrieve(self, *, payment):
            renewal_payment_authenticate(payment=payment, authenticated=True, gateway=self)
            return super().retrieve(payment=Payment.objects.get(pk=payment.pk))

    retry = DEC_1 + timedelta(days=1)
    with time_machine.travel(retry, tick=False):
        summary = subscriptions_renew(at=retry, gateway=CustomerMeanwhile())

    assert (summary.renewed, summary.past_due, summary.errors) == (0, 0, 0)
    order = Order.objects.get()
    payment = Payment.objects.get()
    assert (payment.status, payment.order, payment.claimed_until) == ("succeeded", order, None)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.renewal_attempts, waiting.current_period_end) == (
        "active",
        0,
        JAN_1,
    )
