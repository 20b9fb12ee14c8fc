"""order_place and the card: declined, asked again, new cards kept or not."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from moneyed import Money

from checkout.models import Cart, Order
from checkout.services import (
    PaymentDetailsRequired,
    PaymentFailed,
    PaymentRequiresAction,
)
from payments.gateways import CardDetails, SandboxGateway
from payments.models import Payment, PaymentMethod
from subscriptions.models import CreditLedgerEntry, SeatChange
from tests.checkout.conftest import AT, put_in_cart
from tests.checkout.helpers import place

pytestmark = pytest.mark.django_db


def test_a_declined_card_changes_nothing(frozen_now, admin, account, remote_support):
    PaymentMethod.objects.filter(account=account).update(last4="0002")
    put_in_cart(remote_support, 7)
    with pytest.raises(PaymentFailed) as failed:
        place(account, admin)
    assert failed.value.reason == "card_declined"
    remote_support.refresh_from_db()
    assert (remote_support.seats, remote_support.version) == (10, 1)
    assert not Order.objects.exists()
    assert not SeatChange.objects.exists()
    assert not CreditLedgerEntry.objects.exists()
    attempt = Payment.objects.get()  # the attempt is recorded, for staff, with its reason
    assert (attempt.status, attempt.failure_reason, attempt.order) == (
        "failed",
        "card_declined",
        None,
    )
    assert Cart.objects.get(account=account).lines.count() == 1  # the cart is kept


def test_the_same_saved_card_declined_moments_ago_is_not_asked_again(
    frozen_now, admin, account, remote_support
):
    PaymentMethod.objects.filter(account=account).update(last4="0002")
    put_in_cart(remote_support, 7)
    with pytest.raises(PaymentFailed):
        place(account, admin)
    # Clicked again at once: the bank's answer stands; no second attempt to charge.
    with pytest.raises(PaymentFailed) as again:
        place(account, admin)
    assert again.value.reason == "card_declined"
    assert Payment.objects.count() == 1


def test_after_an_authentication_that_failed_the_bank_is_asked_again_at_once(
    frozen_now, admin, account, remote_support
):
    PaymentMethod.objects.filter(account=account).update(last4="3155")
    put_in_cart(remote_support, 7)
    with pytest.raises(PaymentRequiresAction) as asked:
        place(account, admin)
    # The admin cancels on the bank's page: the attempt fails as not authenticated.
    Payment.objects.filter(pk=asked.value.payment.pk).update(
        status=Payment.Status.FAILED, failure_reason="authentication_failed"
    )
    with pytest.raises(PaymentRequiresAction):
        place(account, admin)  # tried again at once: the bank asks again
    assert Payment.objects.count() == 2


def test_a_later_try_or_another_card_is_sent_to_the_bank_again(
    frozen_now, admin, account, remote_support
):
    PaymentMethod.objects.filter(account=account).update(last4="0002")
    put_in_cart(remote_support, 7)
    with pytest.raises(PaymentFailed):
        place(account, admin)
    with time_machine.travel(AT + timedelta(seconds=31), tick=False):
        with pytest.raises(PaymentFailed):
            place(account, admin)  # a deliberate retry later is asked again (and declined)
        assert Payment.objects.count() == 2
        card = CardDetails(number="4242424242424242", exp_month=4, exp_year=2029, cvc="123")
        order = place(account, admin, card=card)
    assert order.amount_due == Money("274.89", "EUR")
    assert list(Payment.objects.values_list("status", flat=True).order_by("id")) == [
        "failed",
        "failed",
        "succeeded",
    ]


def test_payment_details_are_required_when_money_is_due(frozen_now, admin, account, remote_support):
    PaymentMethod.objects.filter(account=account).delete()
    put_in_cart(remote_support, 7)
    with pytest.raises(PaymentDetailsRequired):
        place(account, admin)
    assert not Order.objects.exists()


def test_a_new_card_is_kept_without_its_number_and_becomes_the_default(
    frozen_now, admin, account, remote_support
):
    PaymentMethod.objects.filter(account=account).delete()
    put_in_cart(remote_support, 7)
    card = CardDetails(number="5555555555554444", exp_month=4, exp_year=2029, cvc="123")
    order = place(account, admin, card=card, gateway=SandboxGateway())
    method = PaymentMethod.objects.get(account=account)
    assert (method.brand, method.last4, method.exp_month, method.exp_year) == (
        "Mastercard",
        "4444",
        4,
        2029,
    )
    assert "5555555555554444" not in repr(card)
    assert "Mastercard •••• 4444" in order.payment_method_label


def test_a_declined_new_card_is_not_kept(frozen_now, admin, account, remote_support):
    PaymentMethod.objects.filter(account=account).delete()
    put_in_cart(remote_support, 7)
    card = CardDetails(number="4000000000000002", exp_month=4, exp_year=2029, cvc="123")
    with pytest.raises(PaymentFailed):
        place(account, admin, card=card)
    assert not PaymentMethod.objects.exists()
