"""Details a newcomer trips over on the pages and in the email (issue 13, section 3).

One full stop after "Placed on …", the minus sign (U+2212) on every negative amount,
no "Credit for unused time −€0.00" after a trial, and no "0 licenses are assigned"
on Subscribe now. Each in English and German, as the billing admin reads it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from moneyed import Money

from checkout.models import Order
from subscriptions.models import CreditLedgerEntry, Subscription
from subscriptions.services import credit_ledger_add
from tests.factories import SubscriptionFactory
from tests.pages import review_token, shown
from tests.shared_fixtures import AT, put_in_cart

pytestmark = pytest.mark.django_db

# An amount written with a hyphen-minus: "-€280.00" (English), "-280,00 €" (German).
HYPHEN_AMOUNT = re.compile(r"-(€\d|\d[\d.,]*\xa0€)")


@pytest.fixture
def signed_in(client, admin):
    client.force_login(admin)
    return client


def place_order(client, language: str, django_capture_on_commit_callbacks) -> tuple[str, str]:
    """(review page, order page) of the cart's order, placed in ``language``."""
    headers = {"accept-language": language}
    review = client.get(reverse("checkout:review"), headers=headers).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        placed = client.post(
            reverse("checkout:place"), {"review": review_token(review)}, headers=headers
        )
    assert placed.status_code == 302, placed.content.decode()
    return review, client.get(placed["Location"], headers=headers).content.decode()


def main_text(page: str) -> str:
    """The page's main content: the layout's own text (a CSP nonce, say) left out."""
    return page[page.index("<main") : page.index("</main>")]


@pytest.mark.parametrize(
    ("language", "placed_on"),
    [
        # 12:00 UTC is 1 p.m. in Berlin, the account's time zone.
        ("en", "Placed on Nov. 26, 2026, 1 p.m. A confirmation email"),
        ("de", "Aufgegeben am 26. November 2026 13:00. Eine Bestätigungs"),
    ],
)
def test_placed_on_ends_with_one_full_stop(
    frozen_now, signed_in, remote_support, language, placed_on, django_capture_on_commit_callbacks
):
    put_in_cart(remote_support, 7)
    _, order_page = place_order(signed_in, language, django_capture_on_commit_callbacks)
    assert placed_on in order_page
    assert ".." not in main_text(order_page)


@pytest.fixture
def shrinking(account):
    """10 licenses, period started a day ago: going to 3 credits more than it charges."""
    subscription = SubscriptionFactory(
        account=account,
        plan__product__name="Remote Access",
        seats=10,
        billing_anchor=AT - timedelta(days=1),
    )
    put_in_cart(subscription, 3)
    return subscription


@pytest.mark.parametrize(
    ("language", "subtotal", "tax", "total"),
    [
        ("en", "−€280.00", "−€53.20", "−€333.20"),
        ("de", "−280,00\xa0€", "−53,20\xa0€", "−333,20\xa0€"),
    ],
)
def test_negative_amounts_carry_the_minus_sign_everywhere(
    frozen_now,
    signed_in,
    shrinking,
    language,
    subtotal,
    tax,
    total,
    django_capture_on_commit_callbacks,
):
    # Period of 30 days, 29 unused: credit 10 × 42.00 × 29/30 = 406.00, charge 3 × 42.00
    # = 126.00, subtotal −280.00, VAT 19 % −53.20, total −333.20 (to the account credit).
    edit = signed_in.get(
        reverse("billing_center:edit", args=[shrinking.pk]),
        {"seats": "3"},
        headers={"accept-language": language},
    ).content.decode()
    assert tax in edit  # the live preview's VAT

    review, order_page = place_order(signed_in, language, django_capture_on_commit_callbacks)
    assert (shown(review, "subtotal"), shown(review, "tax"), shown(review, "total")) == (
        subtotal,
        tax,
        total,
    )
    for page in (review, order_page):
        assert subtotal in page and tax in page and total in page
        assert not HYPHEN_AMOUNT.search(main_text(page))

    message = mail.outbox[-1]
    html = message.alternatives[0][0]
    for text in (message.body, html):
        assert subtotal in text and tax in text and total in text
        assert not HYPHEN_AMOUNT.search(text)


@pytest.fixture
def expired_trial(account):
    return SubscriptionFactory(
        account=account,
        status=Subscription.Status.EXPIRED,
        seats=0,
        plan__product__name="Remote Access",
        billing_anchor=datetime(2026, 10, 1, tzinfo=UTC),
        current_period_end=datetime(2026, 10, 31, tzinfo=UTC),
        trial_end=datetime(2026, 10, 31, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("language", "credit_label"),
    [("en", "Credit for unused time"), ("de", "Gutschrift für nicht genutzte Zeit")],
)
def test_a_trial_bought_shows_no_credit_line(
    frozen_now,
    signed_in,
    expired_trial,
    language,
    credit_label,
    django_capture_on_commit_callbacks,
):
    put_in_cart(expired_trial, 5)
    review, order_page = place_order(signed_in, language, django_capture_on_commit_callbacks)
    assert Order.objects.get().lines.get().from_seats == 0
    for page in (review, order_page):
        assert credit_label not in page
    message = mail.outbox[-1]
    assert credit_label not in message.body
    assert credit_label not in message.alternatives[0][0]


def test_a_seat_change_still_shows_its_credit_line(
    frozen_now, signed_in, remote_support, django_capture_on_commit_callbacks
):
    put_in_cart(remote_support, 7)
    review, order_page = place_order(signed_in, "en", django_capture_on_commit_callbacks)
    assert shown(review, "credit") == "−€63.00"
    assert "Credit for unused time" in order_page and "−€63.00" in order_page
    assert "Credit for unused time: −€63.00" in mail.outbox[-1].body


@pytest.mark.parametrize(
    ("language", "floor"),
    [("en", "assigned to users and cannot be removed"), ("de", "kann nicht entfernt")],
)
def test_subscribe_now_says_nothing_of_assigned_licenses_when_none_are(
    signed_in, expired_trial, language, floor
):
    page = signed_in.get(
        reverse("billing_center:edit", args=[expired_trial.pk]),
        headers={"accept-language": language},
    ).content.decode()
    assert "Subscribe now" in page or "Jetzt abonnieren" in page
    assert floor not in page
    assert 'aria-describedby="seats-help' not in page  # nothing points at a missing help text


def test_the_floor_is_still_explained_when_licenses_are_assigned(signed_in, remote_support):
    page = signed_in.get(reverse("billing_center:edit", args=[remote_support.pk])).content.decode()
    assert "3 licenses are assigned to users and cannot be removed." in page
    assert 'aria-describedby="seats-help"' in page


def test_support_sees_negative_amounts_with_the_minus_sign_in_the_admin(
    frozen_now, client, account, shrinking
):
    from django.contrib.auth.models import Group

    from tests.factories import UserFactory

    support = UserFactory(email="support@example.com", is_staff=True)
    support.groups.add(Group.objects.get(name="Support"))
    client.force_login(support)
    changelist = reverse("admin:subscriptions_subscription_changelist")
    actions = client.get(changelist).content.decode()
    action = re.search(r'<option value="([a-z_]+)">Change seats on the customer', actions)
    preview = client.post(
        changelist,
        {
            "action": action.group(1),
            "_selected_action": [shrinking.pk],
            "seats": "3",
            "reason": "customer called",
            "preview": "1",
        },
    ).content.decode()
    assert "<td>−€406.00</td>" in preview  # the credit
    assert "<td>−€280.00</td>" in preview and "<td>−€333.20</td>" in preview
    assert not HYPHEN_AMOUNT.search(preview)

    from tests.checkout.helpers import place

    order = place(account, account.memberships.get().user)
    page = client.get(reverse("admin:checkout_order_change", args=[order.pk])).content.decode()
    # "How the amount came about": the whole calculation, written by the admin itself.
    calculation = page[page.index("<table><tr><th>Remote Access") :]
    calculation = calculation[: calculation.index("</table>")]
    assert "subtotal = −€280.00" in calculation
    assert "subtotal −€280.00 + VAT −€53.20 = total −€333.20" in calculation
    assert not HYPHEN_AMOUNT.search(calculation)


def test_account_credit_applied_on_the_review_has_the_minus_sign(
    frozen_now, signed_in, account, remote_support
):
    credit_ledger_add(
        account=account,
        amount=Money("10.00", "EUR"),
        reason=CreditLedgerEntry.Reason.GOODWILL,
        note="goodwill",
    )
    put_in_cart(remote_support, 12)
    page = signed_in.get(reverse("checkout:review")).content.decode()
    assert shown(page, "credit-applied") == "−€10.00"
