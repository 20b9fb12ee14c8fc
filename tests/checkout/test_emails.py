"""The order confirmation email: every detail, in the admin's language, once."""

from __future__ import annotations

import pytest
from django.core import mail

from checkout.models import Order
from checkout.tasks import send_order_confirmation
from tests.checkout.conftest import put_in_cart
from tests.checkout.helpers import place
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(frozen_now, admin, account, remote_support, django_capture_on_commit_callbacks):
    MembershipFactory(account=account, user__email="bob@acme.example")  # another billing admin
    MembershipFactory(account=account, user__email="member@acme.example", role="member")
    put_in_cart(remote_support, 7)
    with django_capture_on_commit_callbacks(execute=True):
        return place(account, admin)


def test_the_email_has_every_detail_of_the_order(order):
    message = mail.outbox[0]
    assert message.to == ["anna@acme.example"]
    assert message.cc == ["bob@acme.example"]  # billing admins only, not members
    assert message.subject == f"Your order {order.number} is confirmed"
    text = message.body
    for expected in (
        order.number,
        "Remote Support v5",
        "Number of licenses: 10 → 7",
        "Billing period: Nov. 26, 2026 – Dec. 26, 2026",
        "Plan price: €42.00 per license per month",
        "Plan price for 7 licenses: €294.00",
        "Credit for unused time: −€63.00",
        "VAT 19%: €43.89",
        "Total charged: €274.89 (Paid with Visa •••• 4242",
        f"/orders/{order.number}/",
    ):
        assert expected in text, expected
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and "€274.89" in html and order.number in html
    order.refresh_from_db()
    assert order.email_status == Order.EmailStatus.SENT and order.email_sent_at is not None


def test_sending_again_sends_nothing(order):
    assert send_order_confirmation.apply(args=[order.pk]).get() == "already sent"
    assert len(mail.outbox) == 1


def test_an_order_placed_in_german_gets_a_german_email(order):
    Order.objects.filter(pk=order.pk).update(language="de", email_status="pending")
    mail.outbox.clear()
    send_order_confirmation.apply(args=[order.pk]).get()
    message = mail.outbox[0]
    assert message.subject == f"Ihre Bestellung {order.number} ist bestätigt"
    for expected in (
        "Anzahl der Lizenzen: 10 → 7",
        "Abrechnungszeitraum: 26. November 2026 – 26. Dezember 2026",
        "Preis des Plans: 42,00\xa0€ pro Lizenz und Monat",
        "Mehrwertsteuer 19\xa0%: 43,89\xa0€",
        "Belasteter Gesamtbetrag: 274,89\xa0€",
    ):
        assert expected in message.body, expected


def test_a_renewal_email_says_renewed(order):
    Order.objects.filter(pk=order.pk).update(kind="renewal", email_status="pending")
    mail.outbox.clear()
    send_order_confirmation.apply(args=[order.pk]).get()
    assert mail.outbox[0].subject == f"Your subscription is renewed: receipt {order.number}"
    assert "is renewed for a new billing period" in mail.outbox[0].body
