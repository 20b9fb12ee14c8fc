"""The Billing Center's credit balance and each subscription's next charge: what the page
shows is what the renewal run then charges."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from checkout.models import Order
from renewals.run import subscriptions_renew
from subscriptions.credit import credit_balance
from subscriptions.models import Account, Subscription
from tests.checkout.test_views_accounts import _queries
from tests.factories import MembershipFactory, SubscriptionFactory
from tests.pages import shown
from tests.renewals.conftest import give_credit, subscribe

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DEC_1 = datetime(2026, 12, 1, tzinfo=UTC)
DEC_10 = datetime(2026, 12, 10, tzinfo=UTC)


def next_charges(page: str) -> list[str]:
    """Each subscription's next charge amount, in the page's order."""
    return re.findall(r'data-testid="next-charge-amount">([^<]*)<', page)


def billing_center(client, user, *, at=AT) -> str:
    client.force_login(user)
    with time_machine.travel(at, tick=False):
        response = client.get(reverse("billing_center:home"))
    assert response.status_code == 200
    return response.content.decode()


def renewed_order(subscription: Subscription) -> Order:
    return Order.objects.get(kind=Order.Kind.RENEWAL, lines__subscription=subscription)


def test_the_next_charge_is_what_the_renewal_then_charges(client, admin, account):
    subscription = subscribe(account, plan__product__name="Remote Support v5")
    give_credit(account, "50.00")
    page = billing_center(client, admin)
    assert shown(page, "credit-balance") == "€50.00" == f"€{credit_balance(account).amount}"
    text = " ".join(page.split())
    assert "Next charge on Dec. 1, 2026" in text
    assert '10 licenses × €42.00</th><td class="num">€420.00' in text
    assert 'VAT 19%</th><td class="num">€79.80' in text
    assert shown(page, "next-charge-credit") == "−€50.00"
    assert next_charges(page) == ["€449.80"]

    with time_machine.travel(DEC_1 + timedelta(minutes=1), tick=False):
        subscriptions_renew(at=DEC_1 + timedelta(minutes=1))
    order = renewed_order(subscription)
    assert f"€{order.amount_due.amount}" == "€449.80"
    assert f"€{order.credit_applied.amount}" == "€50.00"
    assert credit_balance(account).amount == 0


def test_credit_goes_to_the_renewal_that_falls_due_first(client, admin, account):
    later = subscribe(account, seats=2, price="19.00", anchor=datetime(2026, 11, 10, tzinfo=UTC))
    first = subscribe(account, plan__product__name="Remote Support v5")  # ends Dec 1
    give_credit(account, "100.00")
    page = billing_center(client, admin)
    by_id = dict(zip([first.pk, later.pk], [None, None], strict=True))
    # The page lists by product name; read each subscription's own card.
    for subscription in (first, later):
        card = page.split(f'id="product-{subscription.pk}"', 1)[1].split("</article>", 1)[0]
        by_id[subscription.pk] = shown(card, "next-charge-amount")
    assert by_id == {first.pk: "€399.80", later.pk: "€45.22"}

    for at in (DEC_1, DEC_10):
        with time_machine.travel(at, tick=False):
            subscriptions_renew(at=at)
    assert f"€{renewed_order(first).amount_due.amount}" == "€399.80"
    assert f"€{renewed_order(later).amount_due.amount}" == "€45.22"


def test_a_german_page_shows_the_next_charge_in_german(client, admin, account):
    admin.language = "de"
    admin.save()
    subscribe(account, plan__product__name="Remote Support v5")
    client.cookies["django_language"] = "de"
    page = " ".join(billing_center(client, admin).split())
    assert "Nächste Abbuchung am 1. Dezember 2026" in page
    assert "10 Lizenzen × 42,00" in page
    assert "Kontoguthaben" in page


def test_no_charge_is_shown_for_what_does_not_renew(client, admin, account):
    ending = subscribe(account, cancel_at_period_end=True, plan__product__name="Ending")
    trial_end = AT + timedelta(days=5)
    subscribe(
        account,
        status=Subscription.Status.TRIAL,
        trial_end=trial_end,
        current_period_end=trial_end,
        plan__product__name="Trying",
    )
    subscribe(account, status=Subscription.Status.EXPIRED, seats=0, plan__product__name="Expired")
    page = " ".join(billing_center(client, admin).split())
    assert next_charges(page) == []
    ends = f"Canceled: this subscription ends on {ending.current_period_end:%b}"
    assert ends in page and "is not renewed" in page
    assert "No charge during the free trial, which ends on Dec. 1, 2026." in page
    assert page.count('data-testid="next-charge"') == 1  # the trial's; the expired one none


def test_a_corporate_account_sees_its_notice_and_no_money_pages(client):
    membership = MembershipFactory(account__billing_channel=Account.BillingChannel.CORPORATE)
    SubscriptionFactory(account=membership.account)
    client.force_login(membership.user)
    home = client.get(reverse("billing_center:home")).content.decode()
    assert "corporate account" in home and "next-charge" not in home
    assert client.get(reverse("billing_center:credit")).status_code == 403
    assert client.get(reverse("billing_center:billing_profile")).status_code == 403


def test_the_billing_center_runs_the_same_queries_for_one_subscription_or_five(client):
    counts = []
    for subscriptions in (1, 5):
        membership = MembershipFactory()
        for _ in range(subscriptions):
            SubscriptionFactory(account=membership.account)
        give_credit(membership.account, "10.00")
        client.force_login(membership.user)
        with time_machine.travel(AT, tick=False):
            page = client.get(reverse("billing_center:home")).content.decode()
            counts.append(_queries(lambda: client.get(reverse("billing_center:home"))))
        assert len(next_charges(page)) == subscriptions
    assert counts[0] == counts[1], counts


def test_no_template_syntax_leaks_onto_the_page(client, admin, account):
    subscribe(account, plan__product__name="Leak check")
    page = billing_center(client, admin)
    for syntax in ("{#", "#}", "{%", "%}", "{{", "}}"):
        assert syntax not in page, syntax


def card_of(page: str, subscription: Subscription) -> str:
    return page.split(f'id="product-{subscription.pk}"', 1)[1].split("</article>", 1)[0]


def test_monthly_renewals_before_a_yearly_one_take_the_credit_first(client, admin, account):
    monthly = subscribe(account, seats=2, price="19.00", anchor=datetime(2026, 11, 10, tzinfo=UTC))
    yearly = subscribe(account, interval="year", plan__product__name="Meeting Rooms")
    give_credit(account, "100.00")  # two monthly renewals (€45.22 each) and €9.56
    page = billing_center(client, admin)
    assert shown(card_of(page, monthly), "next-charge-amount") == "€0.00"
    yearly_card = card_of(page, yearly)
    assert "next-charge-credit" not in yearly_card  # the monthly ones use it all up first
    assert shown(yearly_card, "next-charge-amount") == "€499.80"

    monthly_dates = [
        datetime(2026 + (m > 12), (m - 1) % 12 + 1, 10, tzinfo=UTC) for m in range(12, 23)
    ]
    for at in [*monthly_dates, datetime(2027, 11, 1, tzinfo=UTC)]:
        with time_machine.travel(at, tick=False):
            subscriptions_renew(at=at)
    assert f"€{renewed_order(yearly).amount_due.amount}" == "€499.80"


def test_a_past_due_renewal_takes_the_credit_before_the_next_charge(client, admin, account):
    from tests.renewals.conftest import decline_cards

    owing = subscribe(account, plan__product__name="Remote Support v5")  # due Dec 1
    later = subscribe(account, seats=2, price="19.00", anchor=datetime(2026, 11, 10, tzinfo=UTC))
    give_credit(account, "100.00")
    decline_cards(account)
    with time_machine.travel(DEC_1, tick=False):
        subscriptions_renew(at=DEC_1)
    owing.refresh_from_db()
    assert owing.status == Subscription.Status.PAST_DUE
    page = billing_center(client, admin, at=DEC_1 + timedelta(days=1))
    later_card = card_of(page, later)
    assert "next-charge-credit" not in later_card  # Pay now of the unpaid renewal takes it
    assert shown(later_card, "next-charge-amount") == "€45.22"
