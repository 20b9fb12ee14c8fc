"""Issue #6, item 4: another account's ids are not found, by every view and every method.

Acme's billing admin places a real order (with its receipt and payment), starts
a second one whose payment waits for the bank, and keeps a line in the cart.
A billing admin of another company then tries each of those ids on every view
of the URL conf that takes an id, with every HTTP method: each answer is 404,
the same as for an id that does not exist, and none of Acme's rows changes.
The views are read from the URL conf, so a new view with an id cannot be missed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from checkout.models import Cart, CartLine, Order
from members.models import Invitation
from members.services import invitation_create
from payments.models import Payment, PaymentMethod
from renewals.run import subscriptions_renew
from subscriptions import clock
from subscriptions.models import (
    CreditLedgerEntry,
    Membership,
    SeatAssignment,
    SeatChange,
    Subscription,
)
from tests.factories import MembershipFactory, PaymentMethodFactory, SubscriptionFactory
from tests.hardening.routes import routes_with_ids
from tests.pages import review_token
from tests.shared_fixtures import put_in_cart

pytestmark = pytest.mark.django_db

METHODS = ("get", "head", "post", "put", "patch", "delete", "options")

# Views whose id is not one of an account's things, and why they are left out here.
NOT_ACCOUNT_IDS = {
    # A one-time link from the password-reset email: uid and token, checked by Django.
    "password_reset_confirm": "a signed reset token, not an account's object",
    # The invitation's link from its email: a token for whoever holds it, signed in or not.
    "members:accept": "an invitation's single-use token, not an account's object",
}


def portal_routes_with_ids() -> list[str]:
    """The customer-facing views with an id (the staff admin has its own permissions)."""
    return sorted(
        {
            route.name
            for route in routes_with_ids()
            if not route.route.startswith("admin/") and route.name not in NOT_ACCOUNT_IDS
        }
    )


@pytest.fixture
def acme_history(frozen_now, client, admin, account, remote_support):
    """Acme's real things: an order with its payment, a payment waiting for the bank,
    a cart line, an active subscription and an expired trial."""
    client.force_login(admin)
    put_in_cart(remote_support, 7)
    token = review_token(client.get(reverse("checkout:review")).content.decode())
    placed = client.post(reverse("checkout:place"), {"review": token})
    order = Order.objects.get(account=account)
    assert placed["Location"] == reverse("checkout:order", args=[order.number])

    meetings = SubscriptionFactory(account=account, plan__product__name="Meeting Rooms", seats=5)
    line = put_in_cart(meetings, 8)
    PaymentMethod.objects.filter(account=account).update(last4="3155")  # asks the bank
    token = review_token(client.get(reverse("checkout:review")).content.decode())
    waiting = client.post(reverse("checkout:place"), {"review": token})
    pending = Payment.objects.get(account=account, status=Payment.Status.REQUIRES_ACTION)
    assert waiting["Location"] == reverse("checkout:authenticate", args=[pending.pk])

    trial = SubscriptionFactory(
        account=account,
        status=Subscription.Status.EXPIRED,
        seats=0,
        trial_end=datetime(2026, 10, 31, tzinfo=UTC),
    )
    # A renewal due now, whose bank asks for authentication: its payment waits for Acme.
    SubscriptionFactory(
        account=account, seats=3, billing_anchor=datetime(2026, 10, 26, 12, tzinfo=UTC)
    )
    assert subscriptions_renew(at=clock.now()).past_due == 1
    client.logout()
    invitation = invitation_create(
        account=account, email="dora@example.org", role="member", invited_by=admin, language="en"
    ).invitation
    return {
        "subscriptions": [remote_support, meetings, trial],
        "line": line,
        "order": order,
        "payments": list(Payment.objects.filter(account=account).order_by("pk")),
        "memberships": [admin.memberships.get(account=account)],
        "invitation": invitation,
    }


def ids_of(history: dict) -> dict[str, list[dict]]:
    """For each view with an id: the kwargs naming each of Acme's things it takes."""
    return {
        "billing_center:edit": [{"pk": s.pk} for s in history["subscriptions"]],
        "billing_center:preview": [{"pk": s.pk} for s in history["subscriptions"]],
        "billing_center:cancel": [{"pk": s.pk} for s in history["subscriptions"]],
        "billing_center:keep": [{"pk": s.pk} for s in history["subscriptions"]],
        "checkout:cart_line_remove": [{"line_id": history["line"].pk}],
        "checkout:order": [{"number": history["order"].number}],
        "checkout:authenticate": [{"payment_id": p.pk} for p in history["payments"]],
        "renewals:renewal_payment": [{"payment_id": p.pk} for p in history["payments"]],
        "renewals:renewal_pay": [{"subscription_id": s.pk} for s in history["subscriptions"]],
        "members:role": [{"pk": m.pk} for m in history["memberships"]],
        "members:remove": [{"pk": m.pk} for m in history["memberships"]],
        "members:resend": [{"pk": history["invitation"].pk}],
        "members:revoke": [{"pk": history["invitation"].pk}],
        "invoices:pdf": [{"number": history["order"].invoice.number}],
        "invoices:xml": [{"number": history["order"].invoice.number}],
    }


NEVER_USED = {
    "billing_center:edit": {"pk": 987654321},
    "billing_center:preview": {"pk": 987654321},
    "billing_center:cancel": {"pk": 987654321},
    "billing_center:keep": {"pk": 987654321},
    "checkout:cart_line_remove": {"line_id": 987654321},
    "checkout:order": {"number": "BC-20261126-NOSUCH00"},
    "checkout:authenticate": {"payment_id": 987654321},
    "renewals:renewal_payment": {"payment_id": 987654321},
    "renewals:renewal_pay": {"subscription_id": 987654321},
    "members:role": {"pk": 987654321},
    "members:remove": {"pk": 987654321},
    "members:resend": {"pk": 987654321},
    "members:revoke": {"pk": 987654321},
    "invoices:pdf": {"number": "2026-999999"},
    "invoices:xml": {"number": "2026-999999"},
}


def snapshot(account) -> dict:
    """Every row of Acme's billing a request could change."""
    return {
        "subscriptions": list(
            Subscription.objects.filter(account=account)
            .order_by("pk")
            .values_list(
                "pk",
                "status",
                "seats",
                "current_period_start",
                "current_period_end",
                "cancel_at_period_end",
            )
        ),
        "cart": list(Cart.objects.filter(account=account).values_list("pk", "checkout_token")),
        "lines": list(
            CartLine.objects.filter(cart__account=account)
            .order_by("pk")
            .values_list("pk", "subscription_id", "new_seats")
        ),
        "orders": list(
            Order.objects.filter(account=account)
            .order_by("pk")
            .values_list("number", "total", "amount_due", "email_status", "payment_problem")
        ),
        "payments": list(
            Payment.objects.filter(account=account)
            .order_by("pk")
            .values_list("pk", "status", "amount", "order_id", "failure_reason", "reference")
        ),
        "payment_methods": list(
            PaymentMethod.objects.filter(account=account)
            .order_by("pk")
            .values_list("pk", "last4", "is_default")
        ),
        "seat_changes": SeatChange.objects.filter(subscription__account=account).count(),
        "ledger": CreditLedgerEntry.objects.filter(account=account).count(),
        "memberships": list(
            Membership.objects.filter(account=account).order_by("pk").values_list("pk", "role")
        ),
        "assignments": SeatAssignment.objects.filter(subscription__account=account).count(),
        "invitations": list(
            Invitation.objects.filter(account=account)
            .order_by("pk")
            .values_list("pk", "token_hash", "expires_at", "revoked_at", "accepted_at")
        ),
    }


@pytest.fixture
def intruder(client):
    """The billing admin of another company, with a subscription and a card of its own."""
    membership = MembershipFactory(account__name="Intruder Ltd", user__email="eve@intruder.test")
    PaymentMethodFactory(account=membership.account)
    SubscriptionFactory(account=membership.account, seats=2)
    client.force_login(membership.user)
    return client


def ask(client, method: str, url: str):
    """One request with a plausible body for the methods that carry one."""
    body = {"seats": "1", "add": "1", "outcome": "authenticated", "review": "x"}
    if method in ("get", "head", "options"):
        return getattr(client, method)(url)
    if method == "post":
        return client.post(url, body)
    encoded = "&".join(f"{key}={value}" for key, value in body.items())
    return getattr(client, method)(url, encoded, content_type="application/x-www-form-urlencoded")


def test_every_view_that_takes_an_id_is_covered(acme_history):
    """A new view with an id in the URL conf fails here until it is added to the checks."""
    covered = set(ids_of(acme_history))
    assert portal_routes_with_ids() == sorted(covered), (
        "A portal view takes an id that the other-account checks do not try: add it to "
        "ids_of() and NEVER_USED (or to NOT_ACCOUNT_IDS with the reason)."
    )
    assert set(NEVER_USED) == covered


@pytest.mark.parametrize("method", METHODS)
def test_another_accounts_ids_are_not_found_and_nothing_changes(
    acme_history, account, intruder, method
):
    before = snapshot(account)
    for name, all_kwargs in ids_of(acme_history).items():
        for kwargs in all_kwargs:
            url = reverse(name, kwargs=kwargs)
            response = ask(intruder, method, url)
            assert response.status_code == 404, (method, name, url, response.status_code)
            if method != "head":
                body = response.content.decode()
                for product in ("Remote Support v5", "Meeting Rooms", "274.89"):
                    assert product not in body, (method, url)
        # An id that exists elsewhere looks exactly like one that exists nowhere.
        nowhere = ask(intruder, method, reverse(name, kwargs=NEVER_USED[name]))
        assert nowhere.status_code == 404, (method, name)
    assert snapshot(account) == before


def test_the_owner_reaches_the_same_urls(acme_history, client, admin):
    """The control: the 404s above are about the account, not broken urls."""
    client.force_login(admin)
    expected = {
        "billing_center:edit": 200,
        "billing_center:preview": 200,
        "billing_center:cancel": None,  # the confirmation, or back to the Billing Center
        "billing_center:keep": 405,  # keeping needs a POST
        "checkout:cart_line_remove": 405,  # removing needs a POST
        "checkout:order": 200,
        "checkout:authenticate": None,  # the waiting payment's page, the paid one's redirect
        "renewals:renewal_payment": None,  # the renewal's page, a checkout's redirect
        "renewals:renewal_pay": 200,  # Pay now: "nothing is due" for a paid subscription
        "members:role": 405,  # changing a role needs a POST
        "members:remove": 200,  # the question first
        "members:resend": 405,
        "members:revoke": 405,
        "invoices:pdf": 200,
        "invoices:xml": 200,
    }
    for name, all_kwargs in ids_of(acme_history).items():
        for kwargs in all_kwargs:
            status = client.get(reverse(name, kwargs=kwargs)).status_code
            if expected[name] is None:
                assert status in (200, 302), (name, kwargs, status)
            else:
                assert status == expected[name], (name, kwargs, status)
    page = client.get(reverse("checkout:order", args=[acme_history["order"].number]))
    assert "274.89" in page.content.decode()


def test_a_billing_admin_of_both_sees_only_the_chosen_accounts_things(
    acme_history, account, client
):
    """An admin of two accounts working on the other one: Acme's ids are not found there
    either, so a link can never act on an account other than the one in the header."""
    membership = MembershipFactory(account__name="Beta AG")
    MembershipFactory(account=account, user=membership.user)
    client.force_login(membership.user)
    client.post(reverse("billing_center:switch_account"), {"account": membership.account_id})
    before = snapshot(account)
    for name, all_kwargs in ids_of(acme_history).items():
        for kwargs in all_kwargs:
            for method in ("get", "post"):
                response = ask(client, method, reverse(name, kwargs=kwargs))
                assert response.status_code == 404, (method, name, kwargs)
    assert snapshot(account) == before
