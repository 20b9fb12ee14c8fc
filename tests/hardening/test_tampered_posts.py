"""Issue #6, item 3: a tampered POST changes nothing it should not; the server's numbers win.

The browser can send anything: a price, a total, a seat count, another
subscription's or another account's id in hidden or extra fields, an altered
or re-signed review token. Acme's billing admin changes Remote Support v5 from
10 to 7 licenses (€274.89 due, docs/billing-rules.md) while another company,
Globex, has a cart and a card of its own; after each tampered request we check
what the admin would: the cart, the review's total, the order, the amount
charged, the card on file, and Globex's rows.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import signing
from django.urls import reverse
from moneyed import Money

from checkout.forms import REVIEW_SALT
from checkout.models import Cart, CartLine, Order
from payments.models import Payment, PaymentMethod
from subscriptions.models import Account, SeatChange, Subscription
from tests.factories import MembershipFactory, PaymentMethodFactory, SubscriptionFactory
from tests.pages import review_token, shown
from tests.shared_fixtures import AT, NOV_1, put_in_cart

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, admin, frozen_now):
    client.force_login(admin)
    return client


@pytest.fixture
def globex(db):
    """Another company with a subscription in its cart and a card on file."""
    membership = MembershipFactory(account__name="Globex GmbH", account__country="DE")
    PaymentMethodFactory(account=membership.account, last4="1881", brand="Visa")
    subscription = SubscriptionFactory(account=membership.account, seats=4, billing_anchor=NOV_1)
    put_in_cart(subscription, 5)
    return membership.account


def rows_of(account: Account) -> dict:
    return {
        "account": list(
            Account.objects.filter(pk=account.pk).values_list("name", "country", "vat_number")
        ),
        "subscriptions": list(
            Subscription.objects.filter(account=account)
            .order_by("pk")
            .values_list("pk", "seats", "status", "current_period_start")
        ),
        "cart": list(Cart.objects.filter(account=account).values_list("checkout_token")),
        "lines": list(
            CartLine.objects.filter(cart__account=account)
            .order_by("pk")
            .values_list("subscription_id", "new_seats")
        ),
        "orders": Order.objects.filter(account=account).count(),
        # An attempt refused before any money moved stays on record as canceled; what
        # matters is money taken and attempts left open.
        "money_taken": list(
            Payment.objects.filter(account=account, status__in=("succeeded", "refunded"))
            .order_by("pk")
            .values_list("amount", "status")
        ),
        "open_attempts": Payment.objects.filter(
            account=account, status__in=("processing", "requires_action")
        ).count(),
        "payment_methods": list(
            PaymentMethod.objects.filter(account=account)
            .order_by("pk")
            .values_list("gateway_reference", "brand", "last4", "exp_month", "exp_year")
        ),
    }


def tampering_fields(globex: Account) -> dict:
    """What a tamperer adds: prices, totals, seats, and someone else's ids."""
    other_subscription = globex.subscriptions.get()
    return {
        "price": "0.01",
        "unit_price": "0.01",
        "total": "0.01",
        "amount_due": "0.01",
        "subtotal": "0.00",
        "tax": "0.00",
        "credit": "9999.00",
        "new_seats": "1",
        "subscription": str(other_subscription.pk),
        "subscription_id": str(other_subscription.pk),
        "pk": str(other_subscription.pk),
        "account": str(globex.pk),
        "account_id": str(globex.pk),
        "plan": str(other_subscription.plan_id),
        "currency": "USD",
        "tax_rate": "0",
        "country": "US",
    }


# -- Edit subscription / Add to cart ----------------------------------------------------


def test_add_to_cart_takes_only_the_count_for_the_subscription_in_the_url(
    signed_in, account, remote_support, globex
):
    globex_before = rows_of(globex)
    response = signed_in.post(
        reverse("billing_center:edit", args=[remote_support.pk]),
        {"seats": "7", "add": "1", **tampering_fields(globex)},
    )
    assert response.status_code == 302
    assert list(CartLine.objects.filter(cart__account=account).values_list(
        "subscription_id", "new_seats"
    )) == [(remote_support.pk, 7)]  # fmt: skip
    review = signed_in.get(reverse("checkout:review")).content.decode()
    assert shown(review, "licenses") == "10 → 7"
    assert "€42.00 per license per month" in review
    assert shown(review, "amount-due") == "€274.89"
    remote_support.refresh_from_db()
    assert remote_support.seats == 10  # nothing changes before Place order
    assert rows_of(globex) == globex_before


def test_the_minus_button_cannot_be_made_to_jump(signed_in, account, remote_support):
    """Only −1 and +1 adjust the count; any other 'adjust' is not a button of the page."""
    for adjust in ("-1000", "+1000", "1e9", "+٣"):
        response = signed_in.post(
            reverse("billing_center:edit", args=[remote_support.pk]),
            {"seats": "8", "adjust": adjust},
        )
        # Not an adjustment: the form is taken as "Add to cart" with the typed count.
        assert response.status_code == 302, adjust
        assert CartLine.objects.get(cart__account=account).new_seats == 8
    page = signed_in.post(
        reverse("billing_center:edit", args=[remote_support.pk]),
        {"seats": "8", "adjust": "-1"},
    ).content.decode()
    assert 'value="7"' in page and shown(page, "preview-total") == "€274.89"


# -- Review and Place order -------------------------------------------------------------


def place(client, token: str, extra: dict | None = None):
    return client.post(reverse("checkout:place"), {"review": token, **(extra or {})})


def reviewed_token(client) -> str:
    return review_token(client.get(reverse("checkout:review")).content.decode())


def test_extra_fields_on_place_order_are_ignored_and_the_server_total_is_charged(
    signed_in, account, remote_support, globex
):
    put_in_cart(remote_support, 7)
    globex_before = rows_of(globex)
    response = place(signed_in, reviewed_token(signed_in), tampering_fields(globex))
    order = Order.objects.get(account=account)
    assert response["Location"] == reverse("checkout:order", args=[order.number])
    receipt = signed_in.get(response["Location"]).content.decode()
    assert shown(receipt, "amount-charged") == "€274.89"
    payment = Payment.objects.get(account=account)
    assert (payment.amount, payment.status) == (Money("274.89", "EUR"), "succeeded")
    assert order.amount_due == Money("274.89", "EUR")
    remote_support.refresh_from_db()
    assert remote_support.seats == 7
    assert rows_of(globex) == globex_before


def signed(payload: dict, *, key: str | None = None) -> str:
    return signing.dumps(payload, salt=REVIEW_SALT, key=key)


def token_payload(token: str) -> dict:
    return signing.loads(token, salt=REVIEW_SALT)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda token, payload: token[:-2] + ("xx" if token[-2:] != "xx" else "yy"),
            id="signature-altered",
        ),
        pytest.param(lambda token, payload: token.replace(":", "", 1), id="cut"),
        pytest.param(lambda token, payload: "", id="empty"),
        pytest.param(lambda token, payload: "x" * 5000, id="overlong"),
        pytest.param(
            lambda token, payload: signed({**payload, "due": "0.01"}, key="attacker-key"),
            id="re-signed-with-another-key",
        ),
        pytest.param(
            lambda token, payload: signing.dumps({**payload, "due": "0.01"}, salt="other"),
            id="signed-for-another-purpose",
        ),
    ],
)
def test_an_altered_review_token_places_nothing(signed_in, account, remote_support, globex, tamper):
    put_in_cart(remote_support, 7)
    token = reviewed_token(signed_in)
    before, globex_before = rows_of(account), rows_of(globex)
    response = place(signed_in, tamper(token, token_payload(token)), tampering_fields(globex))
    assert response.status_code == 409
    page = response.content.decode()
    assert shown(page, "review-note") in (
        "This review could not be verified; here are the current amounts.",
        "This field is required.",  # no review at all
        "Ensure this value has at most 1000 characters (it has 5000).",
    )
    assert shown(page, "amount-due") == "€274.89"  # the server's numbers, to review again
    assert rows_of(account) == before and rows_of(globex) == globex_before
    assert not SeatChange.objects.exists()


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"fp": "0" * 64}, "another quote"),
        ({"at": (AT - timedelta(minutes=5)).isoformat()}, "another instant"),
        ({"at": (AT + timedelta(minutes=5)).isoformat()}, "an instant in the future"),
        ({"token": "00000000-0000-0000-0000-000000000000"}, "another checkout"),
    ],
)
def test_a_re_signed_review_of_something_else_places_nothing(
    signed_in, account, remote_support, globex, change, why
):
    """Even with the server's own key (a leaked key, a bug that signs too much), a review
    is only placed for the cart, instant and quote that were reviewed."""
    put_in_cart(remote_support, 7)
    payload = token_payload(reviewed_token(signed_in))
    before, globex_before = rows_of(account), rows_of(globex)
    response = place(signed_in, signed({**payload, **change}))
    assert response.status_code == 409, why
    assert "Nothing was ordered" in response.content.decode()
    assert rows_of(account) == before and rows_of(globex) == globex_before


def test_another_accounts_review_token_does_not_place_its_order(
    client, signed_in, admin, account, remote_support, globex
):
    """Acme's admin posts the review Globex's admin was shown: neither cart is placed."""
    globex_admin = globex.memberships.get().user
    client.force_login(globex_admin)
    globex_token = reviewed_token(client)
    client.force_login(admin)
    put_in_cart(remote_support, 7)
    before, globex_before = rows_of(account), rows_of(globex)
    response = place(client, globex_token)
    assert response.status_code == 409
    assert rows_of(account) == before and rows_of(globex) == globex_before


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"due": "0.01"}, id="a-lower-amount"),
        pytest.param({"due": "0.00"}, id="nothing-due"),
        pytest.param({"due": "-274.89"}, id="a-negative-amount"),
        pytest.param({"due": "274.89", "currency": "JPY"}, id="another-currency"),
    ],
)
def test_a_re_signed_amount_is_never_what_is_charged(signed_in, account, remote_support, change):
    """The amount due travels signed; re-signed with the server's key (as a leaked key
    would allow) the order is placed for the server's total and charged exactly that,
    or nothing is placed at all. Never an order of €274.89 paid with €0.01 or nothing."""
    put_in_cart(remote_support, 7)
    payload = token_payload(reviewed_token(signed_in))
    place(signed_in, signed({**payload, **change}))
    order = Order.objects.filter(account=account).first()
    payments = list(Payment.objects.filter(account=account, status="succeeded"))
    if order is None:
        assert not payments
        remote_support.refresh_from_db()
        assert remote_support.seats == 10
    else:
        assert order.amount_due == Money("274.89", "EUR")
        assert [payment.amount for payment in payments] == [Money("274.89", "EUR")]


# -- VAT number -------------------------------------------------------------------------


def test_the_vat_number_form_sets_only_the_own_accounts_number(client, french_business, globex):
    globex_before = rows_of(globex)
    response = client.post(
        reverse("checkout:vat_number"),
        {
            "vat_number": "FR40303265045",
            **tampering_fields(globex),
            "vat_number_verified": "1",
            "tax_kind": "reverse_charge",
        },
    )
    assert response.status_code == 302
    french_business.refresh_from_db()
    assert (french_business.vat_number, french_business.country) == ("FR40303265045", "FR")
    assert rows_of(globex) == globex_before
    review = client.get(reverse("checkout:review")).content.decode()
    assert shown(review, "tax") == "€0.00" and shown(review, "amount-due") == "€441.00"


def test_a_refused_vat_number_keeps_the_tax_whatever_else_is_sent(client, french_business, globex):
    """Fields claiming reverse charge or a 0 % rate do not stand in for a valid number."""
    before, globex_before = rows_of(french_business), rows_of(globex)
    response = client.post(
        reverse("checkout:vat_number"),
        {"vat_number": "FR00000000000", "tax_kind": "reverse_charge", **tampering_fields(globex)},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "not a valid VAT number for FR" in page
    assert "VAT 20%" in page and shown(page, "tax") == "€88.20"
    assert rows_of(french_business) == before and rows_of(globex) == globex_before


# -- Payment method ---------------------------------------------------------------------


def test_the_card_form_saves_what_the_card_number_says_for_the_own_account_only(
    signed_in, account, globex
):
    globex_before = rows_of(globex)
    response = signed_in.post(
        reverse("payments:payment_method"),
        {
            "card_number": "5555 5555 5555 4444",
            "expiry": "04/31",
            "cvc": "321",
            **tampering_fields(globex),
            "brand": "Amex",
            "last4": "0000",
            "exp_month": "1",
            "exp_year": "2099",
            "gateway_reference": globex.payment_methods.get().gateway_reference,
            "is_default": "false",
        },
    )
    assert response.status_code == 302
    card = PaymentMethod.objects.get(account=account, is_default=True)
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == (
        "Mastercard",
        "4444",
        4,
        2031,
    )
    assert card.gateway_reference != globex.payment_methods.get().gateway_reference
    page = signed_in.get(reverse("payments:payment_method")).content.decode()
    page = page.replace("<strong>", "").replace("</strong>", "")
    assert "Mastercard •••• 4444" in page and "•••• 0000" not in page
    assert rows_of(globex) == globex_before


def test_the_authentication_page_charges_what_was_reviewed(
    signed_in, account, remote_support, globex
):
    """The bank's page for a payment that needs it: extra amount fields change nothing."""
    PaymentMethod.objects.filter(account=account).update(last4="3155")
    put_in_cart(remote_support, 7)
    waiting = place(signed_in, reviewed_token(signed_in))
    globex_before = rows_of(globex)
    done = signed_in.post(
        waiting["Location"], {"outcome": "authenticated", **tampering_fields(globex)}
    )
    order = Order.objects.get(account=account)
    assert done["Location"] == reverse("checkout:order", args=[order.number])
    payment = Payment.objects.get(account=account)
    assert payment.amount == Money(Decimal("274.89"), "EUR") == order.amount_due
    remote_support.refresh_from_db()
    assert remote_support.seats == 7
    assert rows_of(globex) == globex_before
