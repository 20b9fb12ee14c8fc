"""The checkout pages through Django's test client: trials, corporate accounts, members,
GET safety, query budgets, odd input and German."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from time_machine import travel as time_machine_at

from checkout.models import Cart, CartLine, Order
from subscriptions.models import Subscription
from tests.checkout.conftest import AT, put_in_cart
from tests.checkout.helpers import edit_url
from tests.factories import (
    AccountFactory,
    MembershipFactory,
    PaymentMethodFactory,
    SubscriptionFactory,
)
from tests.pages import review_token, shown

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, admin):
    client.force_login(admin)
    return client


# -- Trials, corporate accounts, members ------------------------------------------------


def test_an_expired_trial_shows_subscribe_now_instead_of_options(signed_in, account):
    SubscriptionFactory(
        account=account,
        status=Subscription.Status.EXPIRED,
        seats=0,
        plan__product__name="Remote Access",
        trial_end=datetime(2026, 10, 31, tzinfo=UTC),
    )
    page = signed_in.get(reverse("billing_center:home")).content.decode()
    trial = page[page.index("Remote Access") :]
    trial = trial[: trial.index("</article>")]
    assert "Subscribe now" in trial and "Options" not in trial


def test_active_subscription_has_an_options_menu_with_edit(signed_in, remote_support):
    page = signed_in.get(reverse("billing_center:home")).content.decode()
    assert "Options" in page and 'role="menuitem"' in page
    assert f'href="{edit_url(remote_support)}">Edit subscription</a>' in page
    assert "Visa •••• 4242" in page


def test_corporate_accounts_get_the_notice_and_no_self_service(client, settings):
    settings.CORPORATE_BILLING_URL = "https://corp.example.com/billing"
    membership = MembershipFactory(account__billing_channel="corporate", account__currency="USD")
    subscription = SubscriptionFactory(account=membership.account)
    client.force_login(membership.user)
    page = client.get(reverse("billing_center:home")).content.decode()
    assert "corporate account" in page and 'href="https://corp.example.com/billing"' in page
    assert "Options" not in page and "Edit subscription" not in page
    assert client.get(edit_url(subscription)).status_code == 403
    assert client.get(reverse("checkout:review")).status_code == 403


def test_an_admin_of_two_accounts_switches_between_them(signed_in, admin, remote_support):
    other = MembershipFactory(user=admin, account__name="Beta AG").account
    SubscriptionFactory(account=other, plan__product__name="Beta Product")
    assert "Beta Product" not in signed_in.get(reverse("billing_center:home")).content.decode()
    signed_in.post(reverse("billing_center:switch_account"), {"account": other.pk})
    page = signed_in.get(reverse("billing_center:home")).content.decode()
    assert "Beta Product" in page and "Remote Support v5" not in page
    stranger = AccountFactory()
    response = signed_in.post(reverse("billing_center:switch_account"), {"account": stranger.pk})
    assert response.status_code == 404


# -- Another account's things, GET safety, CSRF -------------------------------------------


def test_gets_change_nothing(frozen_now, signed_in, remote_support):
    put_in_cart(remote_support, 7)
    token = Cart.objects.get().checkout_token
    for url in (
        reverse("billing_center:home"),
        edit_url(remote_support) + "?seats=5",
        reverse("checkout:cart"),
        reverse("checkout:review"),
        reverse("checkout:place"),
        reverse("checkout:orders"),
    ):
        signed_in.get(url)
    assert Cart.objects.get().checkout_token == token
    assert list(CartLine.objects.values_list("new_seats", flat=True)) == [7]
    assert signed_in.get(reverse("checkout:place")).status_code == 405


# -- Query budgets -------------------------------------------------------------------------


def _cart_with(account, count: int):
    for _ in range(count):
        put_in_cart(SubscriptionFactory(account=account), 12)


def _queries(callable_) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        callable_()
    return len(captured.captured_queries)


def test_review_runs_the_same_few_queries_for_one_line_or_five(frozen_now, client, db):
    counts = []
    for lines in (1, 5):
        membership = MembershipFactory()
        PaymentMethodFactory(account=membership.account)
        _cart_with(membership.account, lines)
        client.force_login(membership.user)
        counts.append(_queries(lambda: client.get(reverse("checkout:review"))))
    assert counts[0] == counts[1] <= 12, counts


def test_place_order_runs_the_same_queries_for_one_line_or_five(frozen_now, client, db):
    counts = []
    for lines in (1, 5):
        membership = MembershipFactory()
        PaymentMethodFactory(account=membership.account)
        _cart_with(membership.account, lines)
        client.force_login(membership.user)
        token = review_token(client.get(reverse("checkout:review")).content.decode())
        counts.append(
            _queries(lambda: client.post(reverse("checkout:place"), {"review": token}))  # noqa: B023
        )
        assert Order.objects.filter(account=membership.account).get().lines.count() == lines
    # The invoice is four of them (the year's counter created if missing, locked, the
    # invoice inserted, the counter moved on), the account's activity one.
    assert counts[0] == counts[1] <= 27, counts


def test_billing_center_runs_the_same_queries_for_one_subscription_or_five(client, db):
    counts = []
    for subscriptions in (1, 5):
        membership = MembershipFactory()
        for _ in range(subscriptions):
            SubscriptionFactory(account=membership.account)
        client.force_login(membership.user)
        counts.append(_queries(lambda: client.get(reverse("billing_center:home"))))
    assert counts[0] == counts[1] <= 8, counts


# -- Odd input ---------------------------------------------------------------------------


def test_odd_urls_and_fields_are_not_found_or_refused(signed_in, remote_support):
    assert signed_in.get("/orders/BC-1%00/").status_code == 404
    assert signed_in.post("/cart/lines/abc/remove/").status_code == 404
    response = signed_in.post(
        reverse("billing_center:switch_account"),
        {"account": remote_support.account_id, "next": "foo"},
    )
    assert response["Location"] == reverse("billing_center:home")
    response = signed_in.post(
        reverse("billing_center:switch_account"),
        {"account": remote_support.account_id, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("billing_center:home")
    page = signed_in.get(edit_url(remote_support) + "?seats=abc").content.decode()
    assert "whole number" in page
    preview = reverse("billing_center:preview", args=[remote_support.pk])
    assert "whole number" in signed_in.get(preview, {"seats": "1_0"}).content.decode()


def test_the_vat_number_form_is_only_for_eu_businesses_abroad(signed_in, remote_support):
    put_in_cart(remote_support, 7)  # Acme is in Germany, the seller's country
    response = signed_in.post(reverse("checkout:vat_number"), {"vat_number": "DE136695976"})
    assert response.status_code == 404
    remote_support.account.refresh_from_db()
    assert remote_support.account.vat_number == ""


def test_a_period_awaiting_renewal_is_explained_in_german_and_not_added(signed_in, remote_support):
    Subscription.objects.filter(pk=remote_support.pk).update(
        current_period_end=datetime(2026, 11, 20, tzinfo=UTC)
    )
    with time_machine_at(AT):
        response = signed_in.post(
            edit_url(remote_support),
            {"seats": "7", "add": "1"},
            headers={"accept-language": "de"},
        )
    page = response.content.decode()
    assert "Der aktuelle Abrechnungszeitraum ist beendet" in page
    assert "outside the current period" not in page
    assert not CartLine.objects.exists()


def test_the_404_page_is_the_portals_own(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page/", headers={"accept-language": "de"})
    assert response.status_code == 404
    assert "Seite nicht gefunden" in response.content.decode()


# -- German ---------------------------------------------------------------------------------


def test_the_flow_speaks_the_help_pages_german(frozen_now, signed_in, remote_support):
    de = {"headers": {"accept-language": "de"}}
    home = signed_in.get(reverse("billing_center:home"), **de).content.decode()
    assert "Optionen" in home and "Abonnement bearbeiten" in home and "42,00\xa0€" in home
    edit = signed_in.get(edit_url(remote_support), **de).content.decode()
    assert "Anzahl der Lizenzen" in edit and "In den Warenkorb" in edit
    refused = signed_in.post(edit_url(remote_support), {"seats": "2", "add": "1"}, **de)
    assert "3 Lizenzen sind Benutzern zugewiesen" in refused.content.decode()
    put_in_cart(remote_support, 7)
    assert "Zur Kasse" in signed_in.get(reverse("checkout:cart"), **de).content.decode()
    review = signed_in.get(reverse("checkout:review"), **de).content.decode()
    for words in (
        "Kasse",
        "Abrechnungszeitraum",
        "Preis des Plans",
        "Fälliger Gesamtbetrag",
        "Bestellung ändern",
        "Bestellung aufgeben",
    ):
        assert words in review, words
    assert shown(review, "period") == "26. November 2026 – 26. Dezember 2026"
    assert shown(review, "amount-due") == "274,89\xa0€"
