"""Pay now: a past-due or suspended renewal paid on the portal with the card on file or a
new card; one order whatever is clicked how often; another account's is not found."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from checkout.models import Order
from payments.models import Payment, PaymentMethod
from renewals.run import subscriptions_renew
from subscriptions.models import AuditEntry, Subscription
from tests.factories import MembershipFactory, PaymentMethodFactory
from tests.renewals.conftest import DEC_1, JAN_1, NOV_1, decline_cards, eur, give_credit, subscribe

pytestmark = pytest.mark.django_db

GOOD_CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123"}
LATER = DEC_1 + timedelta(hours=5)


@pytest.fixture
def past_due(acme):
    """Acme's Remote Support v5 declined on Dec 1 (card 4000 0000 0000 0002 on file)."""
    decline_cards(acme)
    subscription = subscribe(acme, plan__product__name="Remote Support v5")
    with time_machine.travel(DEC_1, tick=False):
        subscriptions_renew(at=DEC_1)
    subscription.refresh_from_db()
    assert subscription.status == "past_due"
    return subscription


def pay_url(subscription) -> str:
    return reverse("renewals:renewal_pay", args=[subscription.pk])


def pay(client, subscription, **card):
    with time_machine.travel(LATER, tick=False):
        return client.post(pay_url(subscription), {"period": DEC_1.isoformat(), **card})


def test_the_page_shows_what_is_due_and_the_card_on_file(past_due, anna):
    with time_machine.travel(LATER, tick=False):
        page = anna.get(pay_url(past_due)).content.decode()
    assert "The renewal of Remote Support v5 could not be charged" in page
    assert "Unless it is paid before, we try the card on file again on Dec. 2, 2026." in page
    assert 'data-testid="amount-due">€499.80<' in page
    assert "Card on file: Visa •••• 0002 (12/2030). This card was declined at the last try." in page
    assert '<details class="other-card" open>' in page
    assert "Pay €499.80" in page


def test_pay_now_with_a_good_card_ends_the_dunning_and_writes_one_order(past_due, anna):
    answer = pay(anna, past_due, **GOOD_CARD)

    order = Order.objects.get()
    assert answer.status_code == 302
    assert answer.url == reverse("checkout:order", args=[order.number])
    assert (order.kind, order.amount_due, order.effective_at) == ("renewal", eur("499.80"), DEC_1)
    past_due.refresh_from_db()
    assert past_due.status == Subscription.Status.ACTIVE
    assert (past_due.current_period_start, past_due.current_period_end) == (DEC_1, JAN_1)
    assert (past_due.past_due_since, past_due.renewal_attempts) == (None, 0)
    assert past_due.next_renewal_attempt_at is None
    assert list(Payment.objects.order_by("pk").values_list("status", "order")) == [
        ("failed", None),
        ("succeeded", order.pk),
    ]
    # The card that paid is the card on file now.
    assert PaymentMethod.objects.get(account=past_due.account, is_default=True).last4 == "4242"
    entry = AuditEntry.objects.get(action="renewal_paid_now")
    assert (entry.channel, entry.actor.email) == ("portal", "anna@acme.example")
    assert entry.after["order"] == order.number
    page = anna.get(answer.url).content.decode()
    assert "The renewal is paid and the subscription is active again." in page
    # The renewal run has nothing left to do for that period.
    with time_machine.travel(DEC_1 + timedelta(days=1), tick=False):
        assert subscriptions_renew(at=DEC_1 + timedelta(days=1)).renewed == 0


def test_paying_twice_charges_once_and_says_it_is_paid(past_due, anna):
    pay(anna, past_due, **GOOD_CARD)
    again = pay(anna, past_due, **GOOD_CARD)

    assert again.status_code == 302 and again.url == pay_url(past_due)
    page = anna.get(again.url).content.decode()
    assert "This renewal is already paid. Nothing was charged." in page
    assert "Nothing is due for this subscription: it is paid." in page
    assert Order.objects.count() == 1
    assert Payment.objects.filter(status="succeeded").count() == 1
    assert Payment.objects.count() == 2
    # The card typed in the second time charged nothing and is not kept.
    assert PaymentMethod.objects.count() == 2


def test_a_card_on_file_replaced_since_the_decline_pays(past_due, anna):
    PaymentMethod.objects.filter(account=past_due.account).update(is_default=False)
    PaymentMethodFactory(account=past_due.account, last4="4242")
    with time_machine.travel(LATER, tick=False):
        page = anna.get(pay_url(past_due)).content.decode()
    assert "Card on file: Visa •••• 4242 (12/2030)." in page and "declined" not in page
    answer = pay(anna, past_due)
    assert answer.status_code == 302
    assert Order.objects.get().payment_method_label == "Visa •••• 4242 (12/2030)"


def test_a_declined_card_is_refused_and_the_dunning_goes_on(past_due, anna):
    answer = pay(anna, past_due, card_number="4000 0000 0000 0002", expiry="12/30", cvc="123")

    assert answer.status_code == 402
    assert "Your card was declined, so nothing was charged." in answer.content.decode()
    assert not Order.objects.exists()
    past_due.refresh_from_db()
    assert (past_due.status, past_due.renewal_attempts) == ("past_due", 1)
    assert past_due.next_renewal_attempt_at == DEC_1 + timedelta(days=1)
    assert list(Payment.objects.values_list("status", flat=True)) == ["failed", "failed"]
    # The declined card did not become the card on file, and is not kept.
    assert list(PaymentMethod.objects.values_list("last4", "is_default")) == [("0002", True)]


def test_an_invalid_card_is_refused_before_anything_is_charged(past_due, anna):
    answer = pay(anna, past_due, card_number="4242 4242 4242 4241", expiry="12/30", cvc="1")
    assert answer.status_code == 400
    page = answer.content.decode()
    assert "Enter a valid card number." in page and "4242 4242 4242 4241" not in page
    assert Payment.objects.count() == 1


def test_the_account_credit_pays_first(past_due, anna):
    give_credit(past_due.account, "100.00")
    with time_machine.travel(LATER, tick=False):
        assert "€399.80" in anna.get(pay_url(past_due)).content.decode()
    pay(anna, past_due, **GOOD_CARD)
    order = Order.objects.get()
    assert (order.credit_applied, order.amount_due) == (eur("100.00"), eur("399.80"))


def test_a_suspended_subscription_comes_back_when_paid(acme, anna):
    decline_cards(acme)
    subscription = subscribe(acme)
    for days in (0, 1, 3, 7):
        with time_machine.travel(DEC_1 + timedelta(days=days), tick=False):
            subscriptions_renew(at=DEC_1 + timedelta(days=days))
    subscription.refresh_from_db()
    assert subscription.status == "suspended"
    with time_machine.travel(DEC_1 + timedelta(days=9), tick=False):
        page = anna.get(reverse("billing_center:home")).content.decode()
        assert "Suspended: the renewal is unpaid" in page
        assert (
            "is unpaid, so the subscription is suspended"
            in anna.get(pay_url(subscription)).content.decode()
        )
        answer = anna.post(pay_url(subscription), {"period": DEC_1.isoformat(), **GOOD_CARD})
    assert answer.status_code == 302
    subscription.refresh_from_db()
    assert (subscription.status, subscription.current_period_end) == ("active", JAN_1)
    assert subscription.renewal_attempts == 0
    assert Order.objects.count() == 1


def test_a_bank_asking_for_3d_secure_sends_the_admin_to_confirm_it(past_due, anna):
    answer = pay(anna, past_due, card_number="4000 0025 0000 3155", expiry="12/30", cvc="123")
    waiting = Payment.objects.get(status="requires_action")
    assert answer.url == reverse("renewals:renewal_payment", args=[waiting.pk])
    # The Pay now page sends them there too, and charges nothing new meanwhile.
    with time_machine.travel(LATER, tick=False):
        assert (
            "Your bank asks you to confirm this payment."
            in anna.get(pay_url(past_due)).content.decode()
        )
        assert pay(anna, past_due, **GOOD_CARD).url == answer.url
        done = anna.post(answer.url, {"outcome": "authenticated"})
    assert done.status_code == 302
    past_due.refresh_from_db()
    assert past_due.status == "active"
    assert Order.objects.count() == 1
    assert Payment.objects.filter(status="succeeded").count() == 1


def test_an_outdated_page_charges_nothing(past_due, anna):
    answer = pay(anna, past_due, period=NOV_1.isoformat())
    assert answer.status_code == 302
    assert (
        "Nothing is due for this subscription. Nothing was charged."
        in anna.get(answer.url).content.decode()
    )
    assert Payment.objects.count() == 1


def test_another_accounts_admin_gets_not_found(past_due, client):
    client.force_login(MembershipFactory(account__name="Other GmbH").user)
    assert client.get(pay_url(past_due)).status_code == 404
    assert pay(client, past_due, **GOOD_CARD).status_code == 404
    assert not Order.objects.exists() and Payment.objects.count() == 1


def test_an_admin_of_two_accounts_pays_only_in_the_account_chosen(past_due, client, acme):
    other = MembershipFactory(account__name="Aaa Other GmbH", user__email="anna2@acme.example")
    MembershipFactory(account=acme, user=other.user)
    client.force_login(other.user)
    client.post(reverse("billing_center:switch_account"), {"account": other.account_id})
    assert client.get(pay_url(past_due)).status_code == 404
    assert pay(client, past_due, **GOOD_CARD).status_code == 404
    assert not Order.objects.exists()

    client.post(reverse("billing_center:switch_account"), {"account": acme.pk})
    assert pay(client, past_due, **GOOD_CARD).status_code == 302
    assert Order.objects.count() == 1


def test_a_member_who_is_no_billing_admin_cannot_pay(past_due, client, acme):
    from subscriptions.models import Membership

    client.force_login(MembershipFactory(account=acme, role=Membership.Role.MEMBER).user)
    assert pay(client, past_due, **GOOD_CARD).status_code == 403
    assert not Order.objects.exists()


def test_in_german(past_due, anna):
    with time_machine.travel(LATER, tick=False):
        page = anna.get(pay_url(past_due), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Jetzt bezahlen" in page
    assert "499,80\xa0€ bezahlen" in page
    assert "konnte nicht abgebucht werden, daher ist das Abonnement überfällig" in page


def test_the_page_of_the_declined_payment_links_to_pay_now(past_due, anna):
    failed = Payment.objects.get()
    page = anna.get(reverse("renewals:renewal_payment", args=[failed.pk])).content.decode()
    assert f'href="{pay_url(past_due)}"' in page


def test_a_gateway_that_does_not_answer_charges_nothing_twice(past_due, acme):
    """No answer: the attempt stays open, and the next Pay now sends the same payment again
    (its idempotency key), rather than a second one."""
    from payments.gateways import GatewayUnavailable, SandboxGateway
    from renewals.pay_now import renewal_pay_now

    class Silent(SandboxGateway):
        def charge_off_session(self, *, payment):
            raise GatewayUnavailable("timeout")

    admin = acme.memberships.get().user
    PaymentMethod.objects.filter(account=acme).update(last4="4242")
    arguments = {
        "account": acme,
        "subscription_id": past_due.pk,
        "period_start": DEC_1,
        "paid_by": admin,
    }
    with time_machine.travel(LATER, tick=False):
        with pytest.raises(GatewayUnavailable):
            renewal_pay_now(**arguments, gateway=Silent())
        open_attempt = Payment.objects.get(status="processing")
        assert open_attempt.claimed_until is None
        order = renewal_pay_now(**arguments, gateway=SandboxGateway())
    assert Payment.objects.count() == 2
    open_attempt.refresh_from_db()
    assert (open_attempt.status, open_attempt.order) == ("succeeded", order)


def test_the_issues_scenario_through_the_command_the_email_and_the_pages(
    acme, anna, mailoutbox, django_capture_on_commit_callbacks
):
    """Card 4000 0000 0000 0002 on file, renew_subscriptions after the period ends, the
    past-due email, then Pay now from its link with a good card."""
    import re
    from io import StringIO

    from django.core.management import call_command

    decline_cards(acme)
    subscription = subscribe(acme, plan__product__name="Meeting Rooms")
    with (
        time_machine.travel(DEC_1 + timedelta(minutes=5), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        call_command("renew_subscriptions", stdout=StringIO(), stderr=StringIO())
    [email] = mailoutbox
    assert "Meeting Rooms" in email.subject and "€499.80" in email.body
    path = re.search(r"https?://[^/\s]+(/renewals/subscriptions/\d+/pay/)", email.body).group(1)

    with time_machine.travel(DEC_1 + timedelta(hours=2), tick=False):
        home = anna.get(reverse("billing_center:home")).content.decode()
        assert "Past due: the renewal payment failed" in home and path in home
        assert "Pay €499.80" in anna.get(path).content.decode()
        answer = anna.post(path, {"period": DEC_1.isoformat(), **GOOD_CARD})
        assert answer.status_code == 302
        home = anna.get(reverse("billing_center:home")).content.decode()
    assert "Past due" not in home and "Jan. 1, 2027" in home
    subscription.refresh_from_db()
    assert (subscription.status, subscription.current_period_end) == ("active", JAN_1)
    assert Order.objects.count() == 1
