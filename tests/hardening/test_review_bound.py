"""A signed review is placed only in the account, and by the admin, it was shown to.

An admin of two accounts who places (or starts paying) a review in one account,
switches to the other and submits the first review again is told so, and nothing
changes in either account; a colleague given the page fares the same.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from checkout.models import Order
from payments.models import Payment, PaymentMethod
from tests.factories import MembershipFactory, PaymentMethodFactory, SubscriptionFactory
from tests.pages import review_token
from tests.shared_fixtures import NOV_1, put_in_cart

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]

OTHER_ACCOUNT = "This review was made for another account or by another person"


@pytest.fixture
def beta(admin, account):
    """Anna is billing admin of Acme and of Beta AG; each has a card and 10 → 12 in its cart."""
    membership = MembershipFactory(account__name="Beta AG", user=admin)
    PaymentMethodFactory(account=membership.account)
    for each in (account, membership.account):
        put_in_cart(SubscriptionFactory(account=each, seats=10, billing_anchor=NOV_1), 12)
    return membership.account


def switch(client, account) -> None:
    response = client.post(reverse("billing_center:switch_account"), {"account": account.pk})
    assert response.status_code == 302


def reviewed_in(client, account) -> str:
    switch(client, account)
    return review_token(client.get(reverse("checkout:review")).content.decode())


def state() -> list:
    return [
        sorted(Payment.objects.values_list("account_id", "status", "payment_method_id")),
        sorted(PaymentMethod.objects.values_list("account_id", "last4", "is_default")),
        sorted(Order.objects.values_list("account_id", "number")),
    ]


def test_a_placed_review_of_one_account_submitted_in_another_changes_nothing(
    client, admin, account, beta
):
    client.force_login(admin)
    token = reviewed_in(client, beta)
    placed = client.post(reverse("checkout:place"), {"review": token})
    assert placed.status_code == 302 and Order.objects.filter(account=beta).count() == 1
    before = state()

    switch(client, account)
    again = client.post(reverse("checkout:place"), {"review": token})

    assert again.status_code == 409
    assert OTHER_ACCOUNT in again.content.decode()
    assert "Acme GmbH" in again.content.decode()  # the review of the account now chosen
    assert state() == before


def test_a_payment_waiting_for_the_bank_is_not_touched_from_another_account(
    client, admin, account, beta
):
    PaymentMethod.objects.filter(account=beta).update(last4="3155")  # the bank asks
    client.force_login(admin)
    token = reviewed_in(client, beta)
    waiting = client.post(reverse("checkout:place"), {"review": token})
    assert waiting.status_code == 302 and "/authenticate/" in waiting["Location"]
    before = state()

    switch(client, account)
    typed = {"card_number": "4242 4242 4242 4242", "expiry": "12/35", "cvc": "073"}
    again = client.post(reverse("checkout:place"), {"review": token, **typed})

    assert again.status_code == 409 and OTHER_ACCOUNT in again.content.decode()
    assert state() == before
    assert Payment.objects.get(account=beta).status == Payment.Status.REQUIRES_ACTION


def test_a_colleagues_review_is_not_placed_in_their_name(client, admin, account, beta):
    client.force_login(admin)
    token = reviewed_in(client, account)
    colleague = MembershipFactory(account=account).user
    client.force_login(colleague)
    before = state()

    response = client.post(reverse("checkout:place"), {"review": token})

    assert response.status_code == 409 and OTHER_ACCOUNT in response.content.decode()
    assert state() == before


def test_the_admins_own_review_in_the_chosen_account_is_placed(client, admin, account, beta):
    client.force_login(admin)
    reviewed_in(client, beta)
    token = reviewed_in(client, account)
    response = client.post(reverse("checkout:place"), {"review": token})
    assert response.status_code == 302
    assert list(Order.objects.values_list("account_id", flat=True)) == [account.pk]
