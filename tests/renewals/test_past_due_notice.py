"""A declined renewal (sandbox card 4000 0000 0000 0002 on file): each billing admin is
emailed once per failed attempt, in their language, and the Billing Center shows past due."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from payments.models import Payment
from renewals.models import PaymentFailureNotice
from renewals.notices import payment_failed_deliver, payment_failed_notices_dispatch
from renewals.run import subscriptions_renew
from renewals.tasks import send_payment_failed_notice
from subscriptions.models import AuditEntry
from tests.factories import MembershipFactory, PaymentMethodFactory
from tests.renewals.conftest import DEC_1, decline_cards, subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def declined(acme, django_capture_on_commit_callbacks):
    """Acme's Remote Support v5 declined on Dec 1; Bernd, a second billing admin, reads German."""
    MembershipFactory(account=acme, user__email="bernd@acme.example", user__language="de")
    decline_cards(acme)
    subscription = subscribe(acme, plan__product__name="Remote Support v5")
    run_at(DEC_1, django_capture_on_commit_callbacks)
    return subscription


def run_at(at, capture):
    with time_machine.travel(at, tick=False), capture(execute=True):
        return subscriptions_renew(at=at)


def pay_link(subscription) -> str:
    return f"{settings.PORTAL_BASE_URL}/renewals/subscriptions/{subscription.pk}/pay/"


def test_each_billing_admin_is_emailed_in_their_language(declined, mailoutbox):
    assert sorted(m.to[0] for m in mailoutbox) == ["anna@acme.example", "bernd@acme.example"]
    english = next(m for m in mailoutbox if m.to == ["anna@acme.example"])
    german = next(m for m in mailoutbox if m.to == ["bernd@acme.example"])

    assert english.subject == "Payment failed: the renewal of Remote Support v5 for Acme GmbH"
    assert "We could not charge the renewal of Remote Support v5 for Acme GmbH" in english.body
    assert "Total due: €499.80" in english.body
    assert "Billing period: Dec. 1, 2026 – Jan. 1, 2027" in english.body
    assert "We will try the card on file again on Dec. 2, 2026." in english.body
    assert f"Pay now: {pay_link(declined)}" in english.body
    assert f'href="{pay_link(declined)}"' in english.alternatives[0][0]

    assert german.subject == (
        "Zahlung fehlgeschlagen: die Verlängerung von Remote Support v5 für Acme GmbH"
    )
    assert "Die Karte wurde abgelehnt." in german.body
    assert "Fälliger Gesamtbetrag: 499,80\xa0€" in german.body
    assert "Abrechnungszeitraum: 1. Dezember 2026 – 1. Januar 2027" in german.body
    assert "Wir versuchen es am 2. Dezember 2026 erneut mit der hinterlegten Karte." in german.body
    assert f"Jetzt bezahlen: {pay_link(declined)}" in german.body
    assert f'href="{pay_link(declined)}"' in german.alternatives[0][0]

    notice = PaymentFailureNotice.objects.get()
    assert notice.sent_at == DEC_1 and notice.subscription == declined


def test_a_retried_task_or_the_sweeper_sends_nothing_again(declined, mailoutbox):
    payment = Payment.objects.get()
    assert send_payment_failed_notice.apply(args=[payment.pk]).get() == "already sent"
    assert payment_failed_deliver(payment_id=payment.pk) == "already sent"
    with time_machine.travel(DEC_1 + timedelta(hours=1), tick=False):
        assert payment_failed_notices_dispatch() == {}
    assert len(mailoutbox) == 2


def test_each_failed_retry_sends_a_new_email_and_the_last_one_says_suspended(
    declined, mailoutbox, django_capture_on_commit_callbacks
):
    run_at(DEC_1 + timedelta(days=1), django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 4
    assert "again on Dec. 4, 2026." in mailoutbox[-1].body + mailoutbox[-2].body

    run_at(DEC_1 + timedelta(days=3), django_capture_on_commit_callbacks)
    latest = next(m for m in mailoutbox[-2:] if m.to == ["anna@acme.example"])
    assert "again on Dec. 8, 2026." in latest.body
    assert "That is the last try: if it fails too, the subscription is suspended." in latest.body

    run_at(DEC_1 + timedelta(days=7), django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 8
    latest = next(m for m in mailoutbox[-2:] if m.to == ["bernd@acme.example"])
    assert latest.subject == (
        "Gesperrt: Die Verlängerung von Remote Support v5 für Acme GmbH ist nicht bezahlt"
    )
    assert "Wir versuchen es nicht noch einmal: Das Abonnement ist gesperrt" in latest.body
    assert PaymentFailureNotice.objects.filter(sent_at__isnull=False).count() == 4

    entries = list(
        AuditEntry.objects.filter(account=declined.account)
        .order_by("pk")
        .values_list("channel", "action", "actor")
    )
    assert entries == [("system", "renewal_payment_failed", None)] * 3 + [
        ("system", "suspended", None)
    ]


def test_a_notice_the_broker_lost_is_sent_by_the_sweeper_once(acme, mailoutbox):
    decline_cards(acme)
    subscribe(acme, plan__product__name="Remote Support v5")
    with time_machine.travel(DEC_1, tick=False):
        subscriptions_renew(at=DEC_1)  # the after-commit task never ran (no broker)
    assert mailoutbox == []
    with time_machine.travel(DEC_1 + timedelta(minutes=5), tick=False):
        assert list(payment_failed_notices_dispatch().values()) == ["sent"]
        assert payment_failed_notices_dispatch() == {}
    assert [m.to for m in mailoutbox] == [["anna@acme.example"]]


def test_a_renewal_paid_before_the_email_went_is_not_emailed(acme, mailoutbox):
    decline_cards(acme)
    subscription = subscribe(acme)
    with time_machine.travel(DEC_1, tick=False):
        subscriptions_renew(at=DEC_1)
    subscription.refresh_from_db()
    subscription.status = "active"
    subscription.save()
    payment = Payment.objects.get()
    assert payment_failed_deliver(payment_id=payment.pk) == "no longer due"
    assert mailoutbox == []


def test_declines_cost_the_batch_the_same_queries_whatever_their_number(
    django_capture_on_commit_callbacks,
):
    def queries(count: int) -> int:
        for _ in range(count):
            account = MembershipFactory().account
            PaymentMethodFactory(account=account, last4="0002")
            subscribe(account)
        with (
            time_machine.travel(DEC_1, tick=False),
            CaptureQueriesContext(connection) as captured,
        ):
            summary = subscriptions_renew(at=DEC_1, batch_size=50)
        assert summary.past_due == count
        return len(captured)

    three = queries(3)
    Payment.objects.all().delete()
    from subscriptions.models import Subscription

    Subscription.objects.update(status="canceled")
    assert queries(12) == three


def test_the_billing_center_shows_past_due_with_the_amount_and_pay_now(declined, anna):
    page = anna.get(reverse("billing_center:home")).content.decode()
    assert "Past due: the renewal payment failed" in page
    assert 'data-testid="past-due-amount">€499.80<' in page
    assert reverse("renewals:renewal_pay", args=[declined.pk]) in page
    assert "Next billing date" not in page

    anna.cookies.load({settings.LANGUAGE_COOKIE_NAME: "de"})
    page = anna.get(reverse("billing_center:home"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Überfällig: Die Zahlung der Verlängerung ist fehlgeschlagen" in page
    assert "499,80" in page and "Jetzt bezahlen" in page


def test_the_billing_center_costs_the_same_queries_for_one_past_due_or_four(client):
    def home_queries(past_due: int) -> int:
        membership = MembershipFactory()
        PaymentMethodFactory(account=membership.account, last4="0002")
        for _ in range(past_due):
            subscribe(membership.account)
        subscribe(membership.account, anchor=DEC_1)  # one that is paid up
        with time_machine.travel(DEC_1, tick=False):
            subscriptions_renew(at=DEC_1)
        client.force_login(membership.user)
        with (
            time_machine.travel(DEC_1 + timedelta(hours=2), tick=False),
            CaptureQueriesContext(connection) as captured,
        ):
            page = client.get(reverse("billing_center:home")).content.decode()
        assert page.count('data-testid="past-due"') == past_due
        return len(captured)

    one, four = home_queries(1), home_queries(4)
    # The page's own eight, and four for what the past-due renewals owe.
    assert one == four <= 8 + 4, (one, four)
