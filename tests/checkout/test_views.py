"""The checkout pages through Django's test client: what the billing admin sees and can do."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.urls import reverse
from moneyed import Money
from time_machine import travel as time_machine_at

from checkout.models import Cart, CartLine, Order
from payments.models import PaymentMethod
from subscriptions.models import Subscription
from tests.checkout.conftest import AT, put_in_cart
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


def edit_url(subscription) -> str:
    return reverse("billing_center:edit", args=[subscription.pk])


# -- Edit subscription → cart ---------------------------------------------------------


def test_edit_page_shows_the_field_counts_and_buttons(signed_in, remote_support):
    page = signed_in.get(edit_url(remote_support)).content.decode()
    assert 'for="id_seats">Number of licenses</label>' in page
    assert 'name="adjust" value="-1"' in page and 'name="adjust" value="+1"' in page
    assert "3 licenses are assigned to users" in page
    assert "Add to cart" in page


def test_minus_button_without_javascript_shows_the_new_count_and_its_preview(
    frozen_now, signed_in, remote_support
):
    page = signed_in.post(edit_url(remote_support), {"seats": "8", "adjust": "-1"}).content.decode()
    assert 'value="7"' in page
    assert shown(page, "preview-total") == "€274.89"
    assert not CartLine.objects.exists()


def test_live_preview_fragment(frozen_now, signed_in, remote_support):
    url = reverse("billing_center:preview", args=[remote_support.pk])
    assert shown(signed_in.get(url, {"seats": "7"}).content.decode(), "preview-total") == "€274.89"
    refused = signed_in.get(url, {"seats": "2"}).content.decode()
    assert "3 licenses are assigned to users" in shown(refused, "preview-error")


def test_add_to_cart_then_again_replaces_the_line(frozen_now, signed_in, remote_support):
    response = signed_in.post(edit_url(remote_support), {"seats": "7", "add": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("checkout:cart")
    signed_in.post(edit_url(remote_support), {"seats": "6", "add": "1"})
    assert list(CartLine.objects.values_list("new_seats", flat=True)) == [6]
    page = signed_in.get(reverse("checkout:cart")).content.decode()
    assert "Licenses: 10 → 6" in page and "Checkout" in page


@pytest.mark.parametrize(
    ("seats", "message"),
    [
        ("seven", "whole number"),
        ("7.5", "whole number"),
        ("", "Enter the number of licenses."),
        ("٧", "whole number"),  # Arabic-Indic seven
        ("0", "at least 1 license"),
        ("-4", "at least 1 license"),
        ("1001", "at most 1000 licenses"),
        ("100000000000000000000", "at most 1000 licenses"),
        ("2", "3 licenses are assigned to users. Unassign users first to go below 3."),
        ("10", "already has 10 licenses"),
    ],
)
def test_refused_counts_say_why_next_to_the_field_and_save_nothing(
    signed_in, remote_support, seats, message
):
    response = signed_in.post(edit_url(remote_support), {"seats": seats, "add": "1"})
    page = response.content.decode()
    assert response.status_code == 200
    error = re.search(r'id="seats-error" class="error" role="alert">([^<]*)<', page).group(1)
    assert message in error.replace("&#x27;", "'")
    assert 'aria-invalid="true"' in page
    assert not CartLine.objects.exists()


def test_removing_a_line_and_the_empty_cart(signed_in, remote_support):
    line = put_in_cart(remote_support, 7)
    signed_in.post(reverse("checkout:cart_line_remove", args=[line.pk]))
    assert not CartLine.objects.exists()
    assert "Your cart is empty." in signed_in.get(reverse("checkout:cart")).content.decode()
    assert "Your cart is empty." in signed_in.get(reverse("checkout:review")).content.decode()


# -- Review and Place order -------------------------------------------------------------


def test_review_shows_every_number_of_the_quote(frozen_now, signed_in, remote_support):
    put_in_cart(remote_support, 7)
    page = signed_in.get(reverse("checkout:review")).content.decode()
    assert shown(page, "period") == "Nov. 26, 2026 – Dec. 26, 2026"  # Europe/Berlin
    assert shown(page, "licenses") == "10 → 7"
    assert "€42.00 per license per month" in page
    assert shown(page, "charge") == "€294.00"
    assert shown(page, "credit") == "−€63.00"
    assert shown(page, "subtotal") == "€231.00"
    assert "VAT 19%" in page and shown(page, "tax") == "€43.89"
    assert shown(page, "amount-due") == "€274.89"
    assert "Change order" in page and "Place order" in page
    assert f"{edit_url(remote_support)}?seats=7" in page


def test_change_order_keeps_the_new_count(signed_in, remote_support):
    put_in_cart(remote_support, 7)
    page = signed_in.get(edit_url(remote_support) + "?seats=7").content.decode()
    assert 'name="seats" id="id_seats" value="7"' in page


def test_place_order_and_the_billing_center_shows_the_result(
    frozen_now, signed_in, remote_support, django_capture_on_commit_callbacks
):
    put_in_cart(remote_support, 7)
    token = review_token(signed_in.get(reverse("checkout:review")).content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(reverse("checkout:place"), {"review": token})
    order = Order.objects.get()
    assert response["Location"] == reverse("checkout:order", args=[order.number])
    page = signed_in.get(response["Location"]).content.decode()
    assert "Remote Support v5: 10 → 7 licenses. Next billing date: Dec. 26, 2026." in page
    assert shown(page, "amount-charged") == "€274.89"
    home = signed_in.get(reverse("billing_center:home")).content.decode()
    assert '<dd data-testid="seats">7</dd>' in home
    assert "Dec. 26, 2026" in home
    assert order.number in signed_in.get(reverse("checkout:orders")).content.decode()
    assert len(mail.outbox) == 1


def test_a_double_submit_makes_one_order(frozen_now, signed_in, remote_support):
    put_in_cart(remote_support, 7)
    token = review_token(signed_in.get(reverse("checkout:review")).content.decode())
    first = signed_in.post(reverse("checkout:place"), {"review": token})
    second = signed_in.post(reverse("checkout:place"), {"review": token})
    assert first["Location"] == second["Location"]
    assert Order.objects.count() == 1


def test_an_old_review_shows_the_new_amounts(signed_in, remote_support, frozen_now):
    put_in_cart(remote_support, 7)
    token = review_token(signed_in.get(reverse("checkout:review")).content.decode())
    frozen_now.shift(16 * 60)
    response = signed_in.post(reverse("checkout:place"), {"review": token})
    assert response.status_code == 409
    assert "more than 15 minutes old" in response.content.decode()
    assert not Order.objects.exists()


def test_a_change_after_review_shows_the_new_review_with_a_note(
    frozen_now, signed_in, remote_support
):
    put_in_cart(remote_support, 7)
    token = review_token(signed_in.get(reverse("checkout:review")).content.decode())
    remote_support.plan.price = Money("50.00", "EUR")
    remote_support.plan.save()
    response = signed_in.post(reverse("checkout:place"), {"review": token})
    page = response.content.decode()
    assert response.status_code == 409
    assert "Something changed since your review" in shown(page, "review-note")
    assert shown(page, "charge") == "€350.00"
    assert not Order.objects.exists()


def test_payment_details_are_asked_when_none_are_on_file(
    frozen_now, signed_in, account, remote_support
):
    PaymentMethod.objects.filter(account=account).delete()
    put_in_cart(remote_support, 7)
    page = signed_in.get(reverse("checkout:review")).content.decode()
    assert "Payment details" in page and 'name="card_number"' in page
    token = review_token(page)
    bad = signed_in.post(
        reverse("checkout:place"),
        {"review": token, "card_number": "4242 4242 4242 4241", "expiry": "13/30", "cvc": "12"},
    )
    assert bad.status_code == 400
    body = bad.content.decode()
    assert "Enter a valid card number." in body and "MM/YY" in body and "security code" in body
    assert not Order.objects.exists()
    ok = signed_in.post(
        reverse("checkout:place"),
        {"review": token, "card_number": "4242 4242 4242 4242", "expiry": "12/29", "cvc": "123"},
    )
    assert ok.status_code == 302
    assert PaymentMethod.objects.get(account=account).last4 == "4242"


def test_a_declined_card_shows_the_reason_and_keeps_the_cart(
    frozen_now, signed_in, account, remote_support
):
    PaymentMethod.objects.filter(account=account).update(last4="0002")
    put_in_cart(remote_support, 7)
    token = review_token(signed_in.get(reverse("checkout:review")).content.decode())
    response = signed_in.post(reverse("checkout:place"), {"review": token})
    assert response.status_code == 402
    assert "Your card was declined." in response.content.decode()
    assert CartLine.objects.count() == 1 and not Order.objects.exists()
    remote_support.refresh_from_db()
    assert remote_support.seats == 10


def test_an_eu_business_adds_its_vat_number_and_the_tax_is_recomputed(client, frozen_now):
    membership = MembershipFactory(account__country="FR", account__time_zone="Europe/Paris")
    subscription = SubscriptionFactory(
        account=membership.account, seats=10, billing_anchor=datetime(2026, 11, 1, tzinfo=UTC)
    )
    put_in_cart(subscription, 12)
    client.force_login(membership.user)
    page = client.get(reverse("checkout:review")).content.decode()
    assert "VAT 20%" in page and shown(page, "tax") == "€88.20"  # 441.00 × 20 %
    refused = client.post(reverse("checkout:vat_number"), {"vat_number": "FR00000000000"})
    assert refused.status_code == 400
    assert "not a valid VAT number for FR" in refused.content.decode()
    membership.account.refresh_from_db()
    assert membership.account.vat_number == ""
    client.post(reverse("checkout:vat_number"), {"vat_number": "FR 40 303 265 045"})
    page = client.get(reverse("checkout:review")).content.decode()
    assert "reverse charge" in page and shown(page, "tax") == "€0.00"
    assert shown(page, "amount-due") == "€441.00"


def test_no_vat_number_offer_for_domestic_or_non_eu_customers(signed_in, remote_support):
    put_in_cart(remote_support, 7)
    assert 'name="vat_number"' not in signed_in.get(reverse("checkout:review")).content.decode()


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
    assert counts[0] == counts[1] <= 24, counts


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
