"""Issue #6, item 12: bad input on every form gets a clear message and writes nothing.

Non-numbers, huge numbers (10**20), negative numbers, empty input, Unicode
digits ('٣' Arabic-Indic, '３' fullwidth, '७' Devanagari), overlong strings, VAT
numbers with spaces or another country's prefix, checked through the pages, in
English and in German, for the message next to the field; ids in URLs and the
account switcher answer not found. Each time every table's row count, and the
rows the input aimed at, are the same after. The commands are in
test_bad_input_commands.py.
"""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from checkout.models import Cart, CartLine, Order
from payments.models import PaymentMethod
from subscriptions.access import SESSION_ACCOUNT_KEY
from subscriptions.models import Account, Subscription
from tests.factories import MembershipFactory
from tests.hardening.bad_input import ARABIC, FULLWIDTH, HUGE
from tests.hardening.test_csrf import every_row_count
from tests.shared_fixtures import put_in_cart

pytestmark = pytest.mark.django_db


def error_next_to(page: str, element_id: str) -> str:
    match = re.search(rf'<p [^>]*\bid="{element_id}"[^>]*>([^<]*)<', page)
    assert match, f"no error #{element_id} on the page"
    return html.unescape(match.group(1))


def too_long(limit: int, length: int) -> tuple[str, str]:
    return (
        f"Ensure this value has at most {limit} characters (it has {length}).",
        f"Bitte sicherstellen, dass der Wert aus höchstens {limit} Zeichen besteht. "
        f"(Er besteht aus {length} Zeichen.)",
    )


REQUIRED = ("This field is required.", "Dieses Feld ist zwingend erforderlich.")


@pytest.fixture
def signed_in(client, admin, frozen_now):
    client.force_login(admin)
    return client


def state_of(account: Account) -> dict:
    return {
        "rows": every_row_count(),
        "account": list(Account.objects.filter(pk=account.pk).values_list("vat_number")),
        "seats": list(Subscription.objects.filter(account=account).values_list("pk", "seats")),
        "cart": list(Cart.objects.filter(account=account).values_list("checkout_token")),
        "lines": list(
            CartLine.objects.filter(cart__account=account).values_list("subscription", "new_seats")
        ),
        "cards": list(PaymentMethod.objects.filter(account=account).values_list()),
    }


# -- Number of licenses (Edit subscription, Add to cart, the live preview) ------------

WHOLE = (
    "Enter the number of licenses as a whole number, such as 7.",
    "Geben Sie die Anzahl der Lizenzen als ganze Zahl ein, z. B. 7.",
)
SEATS = [
    pytest.param("seven", WHOLE, id="a-word"),
    pytest.param("7.0", WHOLE, id="a-decimal"),
    pytest.param("1e3", WHOLE, id="an-exponent"),
    pytest.param("0x10", WHOLE, id="hexadecimal"),
    pytest.param("7 licenses", WHOLE, id="with-a-unit"),
    pytest.param(
        "",
        ("Enter the number of licenses.", "Geben Sie die Anzahl der Lizenzen ein."),
        id="empty",
    ),
    pytest.param(
        "   ",
        ("Enter the number of licenses.", "Geben Sie die Anzahl der Lizenzen ein."),
        id="blank",
    ),
    pytest.param(
        "-4", ("You need at least 1 license.", "Sie benötigen mindestens 1 Lizenz."), id="negative"
    ),
    pytest.param(
        HUGE,
        ("This plan allows at most 1000 licenses.", "Dieser Plan erlaubt höchstens 1000 Lizenzen."),
        id="10**20",
    ),
    pytest.param("٧", WHOLE, id="arabic-indic-digit"),
    pytest.param("３", WHOLE, id="fullwidth-digit"),
    pytest.param("७", WHOLE, id="devanagari-digit"),
    pytest.param("7" * 41, too_long(40, 41), id="overlong"),
]


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize(("seats", "messages"), SEATS)
def test_add_to_cart_refuses_a_bad_count_with_a_message_and_saves_nothing(
    signed_in, account, remote_support, seats, messages, language
):
    before = state_of(account)
    response = signed_in.post(
        reverse("billing_center:edit", args=[remote_support.pk]),
        {"seats": seats, "add": "1"},
        headers={"accept-language": language},
    )
    assert response.status_code == 200
    message = messages[0] if language == "en" else messages[1]
    assert error_next_to(response.content.decode(), "seats-error") == message
    assert state_of(account) == before


@pytest.mark.parametrize(
    ("seats", "message"),
    [
        ("seven", WHOLE[1]),
        ("", WHOLE[1]),
        ("٣", WHOLE[1]),
        ("３", WHOLE[1]),
        (HUGE, "Dieser Plan erlaubt höchstens 1000 Lizenzen."),
        ("-4", "Sie benötigen mindestens 1 Lizenz."),
        ("7" * 5000, WHOLE[1]),
    ],
)
def test_the_live_preview_and_a_shared_link_explain_a_bad_count(
    signed_in, account, remote_support, seats, message
):
    before = state_of(account)
    de = {"headers": {"accept-language": "de"}}
    preview = signed_in.get(
        reverse("billing_center:preview", args=[remote_support.pk]), {"seats": seats}, **de
    )
    assert preview.status_code == 200
    shown = re.search(r'data-testid="preview-error">([^<]*)<', preview.content.decode())
    assert html.unescape(shown.group(1)).strip() == message
    if seats != "7" * 5000:  # the link of "Change order" (a typed URL could be that long)
        edit = signed_in.get(
            reverse("billing_center:edit", args=[remote_support.pk]), {"seats": seats}, **de
        )
        assert edit.status_code == 200
        typed = message if seats else "Geben Sie die Anzahl der Lizenzen ein."
        assert error_next_to(edit.content.decode(), "seats-error") == typed
    assert state_of(account) == before


# -- VAT number (review page of an EU business abroad) --------------------------------

NOT_FOR_FR = (
    "This is not a valid VAT number for FR. Check the country prefix and the digits.",
    "Das ist keine gültige Mehrwertsteuernummer für FR. Prüfen Sie das Länderpräfix und "
    "die Ziffern.",
)
VAT_NUMBERS = [
    pytest.param("", REQUIRED, id="empty"),
    pytest.param("   ", REQUIRED, id="blank"),
    pytest.param("DE136695976", NOT_FOR_FR, id="another-countrys-prefix"),
    pytest.param("GB980780684", NOT_FOR_FR, id="a-non-eu-prefix"),
    pytest.param("FR 40 303 265 04", NOT_FOR_FR, id="spaces-and-a-digit-short"),
    pytest.param("FR 40 303 265 046", NOT_FOR_FR, id="spaces-and-a-wrong-check-digit"),
    pytest.param("40303265045".translate(ARABIC), NOT_FOR_FR, id="arabic-indic-digits"),
    pytest.param(HUGE, NOT_FOR_FR, id="10**20"),
    pytest.param("FR" + "4" * 39, too_long(40, 41), id="overlong"),
    pytest.param("not a number", NOT_FOR_FR, id="a-word"),
]


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize(("number", "messages"), VAT_NUMBERS)
def test_a_bad_vat_number_is_refused_with_a_message_and_the_tax_stays(
    client, french_business, number, messages, language
):
    before = state_of(french_business)
    response = client.post(
        reverse("checkout:vat_number"),
        {"vat_number": number},
        headers={"accept-language": language},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert error_next_to(page, "vat-error") == (messages[0] if language == "en" else messages[1])
    assert re.search(r'data-testid="tax">\s*(€88.20|88,20\xa0€)\s*<', page)  # 20 % still
    assert state_of(french_business) == before


@pytest.mark.parametrize(
    "number",
    [
        " fr 40.303.265.045 ",
        "FR 40 303 265 045",
        # Fullwidth digits (a Japanese or Chinese keyboard) are the same digits: python-stdnum
        # folds them (NFKC) before checking, and the number is stored in ASCII.
        "FR" + "40303265045".translate(FULLWIDTH),
    ],
)
def test_spaces_and_wide_digits_in_a_valid_vat_number_are_stored_compact(
    client, french_business, number
):
    """Printed VAT numbers have spaces and dots; they are not an error."""
    response = client.post(reverse("checkout:vat_number"), {"vat_number": number})
    assert response.status_code == 302
    french_business.refresh_from_db()
    assert french_business.vat_number == "FR40303265045"


# -- Card form (payment method page, and at Place order) ------------------------------

VALID_CARD = {"card_number": "5555 5555 5555 4444", "expiry": "04/31", "cvc": "321"}
CARD_NUMBER = ("Enter a valid card number.", "Geben Sie eine gültige Kartennummer ein.")
EXPIRY = ("Enter the expiry date as MM/YY.", "Geben Sie das Ablaufdatum als MM/JJ ein.")
CVC = ("Enter the 3 or 4 digit security code.", "Geben Sie die 3- oder 4-stellige Prüfnummer ein.")
CARD_FIELDS = [
    pytest.param("card_number", "card number", CARD_NUMBER, id="number-a-word"),
    pytest.param("card_number", "", REQUIRED, id="number-empty"),
    pytest.param("card_number", HUGE, CARD_NUMBER, id="number-10**20"),
    pytest.param("card_number", "5555555555554444".translate(ARABIC), CARD_NUMBER, id="number-ar"),
    pytest.param("card_number", "5555555555554444".translate(FULLWIDTH), CARD_NUMBER, id="num-fw"),
    pytest.param("card_number", "5555 5555 5555 4443", CARD_NUMBER, id="number-luhn"),
    pytest.param("card_number", "4" * 31, too_long(30, 31), id="number-overlong"),
    pytest.param("expiry", "13/30", EXPIRY, id="expiry-month-13"),
    pytest.param("expiry", "-4/31", EXPIRY, id="expiry-negative"),
    pytest.param("expiry", "٠٤/٣١", EXPIRY, id="expiry-arabic-indic"),
    pytest.param("expiry", "", REQUIRED, id="expiry-empty"),
    pytest.param("expiry", "04/2031x", too_long(7, 8), id="expiry-overlong"),
    pytest.param(
        "expiry", "04/20", ("This card has expired.", "Diese Karte ist abgelaufen."), id="expired"
    ),
    pytest.param("cvc", "١٢٣", CVC, id="cvc-arabic-indic"),
    pytest.param("cvc", "-12", CVC, id="cvc-negative"),
    pytest.param("cvc", "abc", CVC, id="cvc-a-word"),
    pytest.param("cvc", "", REQUIRED, id="cvc-empty"),
    pytest.param("cvc", "12345", too_long(4, 5), id="cvc-overlong"),
]


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize(("field", "value", "messages"), CARD_FIELDS)
def test_the_card_form_refuses_bad_input_with_a_message_and_keeps_the_card(
    signed_in, account, field, value, messages, language
):
    before = state_of(account)
    response = signed_in.post(
        reverse("payments:payment_method"),
        {**VALID_CARD, field: value},
        headers={"accept-language": language},
    )
    assert response.status_code == 400
    message = messages[0] if language == "en" else messages[1]
    assert error_next_to(response.content.decode(), f"id_{field}_error") == message
    assert state_of(account) == before


@pytest.mark.parametrize(("field", "value", "messages"), CARD_FIELDS[:4] + CARD_FIELDS[7:9])
def test_a_bad_card_at_place_order_places_nothing(
    signed_in, account, remote_support, field, value, messages
):
    PaymentMethod.objects.filter(account=account).delete()
    put_in_cart(remote_support, 7)
    page = signed_in.get(reverse("checkout:review")).content.decode()
    token = re.search(r'name="review" value="([^"]+)"', page).group(1)
    before = state_of(account)
    card = {**VALID_CARD, field: value}
    if field == "card_number" and not value:
        card["card_number"] = " "  # an empty number means "the card on file": there is none
    response = signed_in.post(reverse("checkout:place"), {"review": token, **card})
    assert response.status_code == 400
    body = html.unescape(response.content.decode())
    assert messages[0] in body or "Enter your payment details to place this order." in body
    assert state_of(account) == before
    assert not Order.objects.exists()


# -- The account switcher and ids in URLs -----------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["", "abc", "-1", HUGE, "1" * 5000, "1.0", "٣", "３", "{pk_arabic}", "{pk_fullwidth}"],
)
def test_the_account_switcher_answers_bad_input_with_not_found(signed_in, admin, account, value):
    """Its value comes from a select of the user's accounts: anything else is not one."""
    beta = MembershipFactory(user=admin, account__name="Beta AG").account
    value = value.format(
        pk_arabic=str(beta.pk).translate(ARABIC), pk_fullwidth=str(beta.pk).translate(FULLWIDTH)
    )
    signed_in.get(reverse("billing_center:home"))
    chosen = signed_in.session.get(SESSION_ACCOUNT_KEY)
    before = every_row_count()
    response = signed_in.post(reverse("billing_center:switch_account"), {"account": value})
    assert response.status_code == 404
    assert signed_in.session.get(SESSION_ACCOUNT_KEY) == chosen
    assert every_row_count() == before
    page = signed_in.get(reverse("billing_center:home")).content.decode()
    assert "Remote Support" in page or "Acme GmbH" in page


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(
    "url",
    [
        f"/subscriptions/{HUGE}/edit/",
        f"/subscriptions/{HUGE}/preview/",
        f"/subscriptions/{'9' * 400}/edit/",
        f"/cart/lines/{HUGE}/remove/",
        f"/checkout/payments/{HUGE}/authenticate/",
        f"/orders/{'x' * 5000}/",
        "/orders/%D9%A3/",
        "/subscriptions/%D9%A3/edit/",
        "/subscriptions/-1/edit/",
    ],
)
def test_ids_out_of_range_in_urls_are_not_found(signed_in, account, remote_support, url, method):
    before = state_of(account)
    assert getattr(signed_in, method)(url).status_code == 404
    assert state_of(account) == before
