"""Issue #6, item 12: bad input on every form and every command gets a clear message and
writes nothing.

Non-numbers, huge numbers (10**20), negative numbers, empty input, Unicode
digits ('٣' Arabic-Indic, '３' fullwidth, '७' Devanagari), overlong strings, VAT
numbers with spaces or another country's prefix. The forms are checked through
the pages, in English and in German, for the message next to the field; the
commands through ``call_command`` (a ``CommandError`` with the message, never
another exception) and from a shell (exit code 1, no traceback). Each time
every table's row count, and the rows the input aimed at, are the same after.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.urls import reverse

from checkout.models import Cart, CartLine, Order
from payments.models import PaymentMethod
from subscriptions.access import SESSION_ACCOUNT_KEY
from subscriptions.models import Account, Subscription
from tests.factories import MembershipFactory, SubscriptionFactory
from tests.hardening.test_csrf import every_row_count
from tests.ops.conftest import run_in_shell
from tests.shared_fixtures import put_in_cart

pytestmark = pytest.mark.django_db

HUGE = str(10**20)
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


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


# -- Management commands ----------------------------------------------------------------


@pytest.fixture
def world(frozen_now, admin, account, remote_support, client):
    """Something for every command to act on if it mistook bad input for good: a trial
    that has ended, a subscription due for renewal, an order whose email is pending."""
    client.force_login(admin)
    put_in_cart(remote_support, 7)
    page = client.get(reverse("checkout:review")).content.decode()
    token = re.search(r'name="review" value="([^"]+)"', page).group(1)
    client.post(reverse("checkout:place"), {"review": token})
    order = Order.objects.get()
    Order.objects.filter(pk=order.pk).update(
        placed_at=frozen_now_minus(hours=1), email_status=Order.EmailStatus.PENDING
    )
    trial = SubscriptionFactory(
        account=account,
        status=Subscription.Status.TRIAL,
        seats=5,
        trial_end=datetime(2026, 11, 20, tzinfo=UTC),
    )
    due = SubscriptionFactory(
        account=account, seats=3, billing_anchor=datetime(2026, 10, 1, tzinfo=UTC)
    )
    mail.outbox.clear()
    return {"order": order, "trial": trial, "due": due, "subscription": remote_support}


def frozen_now_minus(**delta) -> datetime:
    return datetime(2026, 11, 26, 12, 0, tzinfo=UTC) - timedelta(**delta)


def world_state() -> dict:
    return {
        "rows": every_row_count(),
        "subscriptions": list(
            Subscription.objects.order_by("pk").values_list(
                "pk", "status", "seats", "current_period_start", "current_period_end"
            )
        ),
        "emails": list(Order.objects.values_list("number", "email_status")),
        "accounts": list(Account.objects.order_by("pk").values_list("pk", "name")),
    }


def arg(template: str, world: dict) -> str:
    """``{sub}``: a real subscription id; ``{sub_ar}``/``{sub_fw}``: it in Unicode digits."""
    pk = str(world["subscription"].pk)
    account = str(world["subscription"].account_id)
    return template.format(
        sub=pk,
        sub_ar=pk.translate(ARABIC),
        sub_fw=pk.translate(FULLWIDTH),
        acct_ar=account.translate(ARABIC),
        acct_fw=account.translate(FULLWIDTH),
    )


NOT_ISO = "is not an ISO 8601 date or time"
COMMANDS = [
    # list_subscriptions
    (("list_subscriptions", "--account", ""), "No account has the name or id ''."),
    (("list_subscriptions", "--account", "{acct_ar}"), "No account has the name or id '"),
    (("list_subscriptions", "--account", "{acct_fw}"), "No account has the name or id '"),
    (("list_subscriptions", "--account", HUGE), f"No account has the name or id '{HUGE}'."),
    (("list_subscriptions", "--account", "-1"), "No account has the name or id '-1'."),
    (("list_subscriptions", "--account", "x" * 5000), "No account has the name or id 'xxxx"),
    (("list_subscriptions", "--status", "paused"), "invalid choice: 'paused'"),
    (("list_subscriptions", "--status", ""), "invalid choice: ''"),
    # preview_seat_change
    (("preview_seat_change", "abc", "--seats", "7"), "SUBSCRIPTION_ID must be a whole number"),
    (("preview_seat_change", "", "--seats", "7"), "SUBSCRIPTION_ID must be a whole number"),
    (("preview_seat_change", "{sub_ar}", "--seats", "7"), "SUBSCRIPTION_ID must be a whole"),
    (("preview_seat_change", "{sub_fw}", "--seats", "7"), "SUBSCRIPTION_ID must be a whole"),
    (("preview_seat_change", HUGE, "--seats", "7"), f"SUBSCRIPTION_ID '{HUGE}' is too large."),
    (("preview_seat_change", "-1", "--seats", "7"), "No subscription has the id -1."),
    (("preview_seat_change", "{sub}", "--seats", "seven"), "--seats must be a whole number"),
    (("preview_seat_change", "{sub}", "--seats", ""), "--seats must be a whole number"),
    (("preview_seat_change", "{sub}", "--seats", "٣"), "--seats must be a whole number"),
    (("preview_seat_change", "{sub}", "--seats", "３"), "--seats must be a whole number"),
    (("preview_seat_change", "{sub}", "--seats", "7.5"), "--seats must be a whole number"),
    (("preview_seat_change", "{sub}", "--seats", HUGE), f"--seats '{HUGE}' is too large."),
    (("preview_seat_change", "{sub}", "--seats", "7" * 5000), "--seats '7777"),
    (("preview_seat_change", "{sub}", "--seats", "-4"), "cannot be changed to -4 licenses"),
    (("preview_seat_change", "{sub}", "--seats", "1000001"), "at most 1000"),
    (("preview_seat_change", "{sub}", "--seats", "7", "--at", ""), f"--at '' {NOT_ISO}"),
    (("preview_seat_change", "{sub}", "--seats", "7", "--at", "soon"), NOT_ISO),
    (("preview_seat_change", "{sub}", "--seats", "7", "--at", "٢٠٢٦-١١-٢٦"), NOT_ISO),
    (("preview_seat_change", "{sub}", "--seats", "7", "--at", "0001-01-01"), "1970 to 9000"),
    (("preview_seat_change", "{sub}", "--seats", "7", "--at", "x" * 5000), NOT_ISO),
    # expire_trials
    (("expire_trials", "--at", ""), f"--at '' {NOT_ISO}"),
    (("expire_trials", "--at", "yesterday"), NOT_ISO),
    (("expire_trials", "--at", "٢٠٢٦-١١-٢٦"), NOT_ISO),
    (("expire_trials", "--at", HUGE), NOT_ISO),
    (("expire_trials", "--at", "-1"), NOT_ISO),
    (("expire_trials", "--at", "99999-01-01"), NOT_ISO),
    (("expire_trials", "--at", "2999-01-01"), "is in the future"),
    (("expire_trials", "--at", "x" * 5000), NOT_ISO),
    # export_orders
    (("export_orders", "--since", ""), f"--since '' {NOT_ISO}"),
    (("export_orders", "--since", "last month"), NOT_ISO),
    (("export_orders", "--since", "٢٠٢٦-١١-٠١"), NOT_ISO),
    (("export_orders", "--since", HUGE), NOT_ISO),
    (("export_orders", "--since", "-1"), NOT_ISO),
    (("export_orders", "--since", "2026-11-01", "--until", ""), f"--until '' {NOT_ISO}"),
    (("export_orders", "--since", "2026-11-01", "--until", "2026-10-01"), "must be after"),
    (("export_orders", "--since", "2026-11-01", "--format", "xml"), "invalid choice: 'xml'"),
    # dispatch_pending_emails
    (("dispatch_pending_emails", "--older-than", "soon"), "--older-than must be a number"),
    (("dispatch_pending_emails", "--older-than", ""), "--older-than must be a number"),
    (("dispatch_pending_emails", "--older-than", "-1"), "--older-than must be a number"),
    (("dispatch_pending_emails", "--older-than", "nan"), "--older-than must be a number"),
    (("dispatch_pending_emails", "--older-than", "inf"), "--older-than must be a number"),
    (("dispatch_pending_emails", "--older-than", "1e20"), "--older-than must be a number"),
    (("dispatch_pending_emails", "--older-than", HUGE), "--older-than must be a number"),
    (("dispatch_pending_emails", "--older-than", "٣"), "--older-than must be a number"),
    (("dispatch_pending_emails", "--older-than", "３"), "--older-than must be a number"),
    (("dispatch_pending_emails", "--limit", "0"), "--limit must be from 1 to 100000"),
    (("dispatch_pending_emails", "--limit", "-1"), "--limit must be from 1 to 100000"),
    (("dispatch_pending_emails", "--limit", "100001"), "--limit must be from 1 to 100000"),
    (("dispatch_pending_emails", "--limit", HUGE), f"--limit '{HUGE}' is too large."),
    (("dispatch_pending_emails", "--limit", "ten"), "--limit must be a whole number"),
    (("dispatch_pending_emails", "--limit", ""), "--limit must be a whole number"),
    (("dispatch_pending_emails", "--limit", "٣"), "--limit must be a whole number"),
    # renew_subscriptions
    (("renew_subscriptions", "--at", "tomorrow"), "is not an ISO 8601 date or time"),
    (("renew_subscriptions", "--at", "٢٠٢٦-١١-٢٦"), "is not an ISO 8601 date or time"),
    (("renew_subscriptions", "--at", HUGE), "is not an ISO 8601 date or time"),
    (("renew_subscriptions", "--at", "2999-01-01"), "is in the future"),
    (("renew_subscriptions", "--batch-size", "0"), "--batch-size must be between 1 and 100000"),
    (("renew_subscriptions", "--batch-size", "-1"), "--batch-size must be between 1 and 100000"),
    (("renew_subscriptions", "--batch-size", HUGE), "--batch-size " + repr(HUGE) + " is too"),
    (("renew_subscriptions", "--batch-size", "ten"), "--batch-size must be a whole number"),
    (("renew_subscriptions", "--batch-size", ""), "--batch-size must be a whole number"),
    (("renew_subscriptions", "--fan-out", "٢"), "--fan-out must be a whole number"),
    (("renew_subscriptions", "--fan-out", "0"), "--fan-out must be between 1 and 64"),
    # seed_demo
    (("seed_demo", "extra"), "unrecognized arguments: extra"),
    (("seed_demo", "--force=1"), "ignored explicit argument '1'"),
    (("seed_demo", "--force", "--demo", "acme"), "unrecognized arguments: --demo acme"),
]

COMMANDS_EDGES = [
    pytest.param(("renew_subscriptions", "--at", ""), "--at"),
    pytest.param(
        ("renew_subscriptions", "--at", "0001-01-01T00:00:00+01:00"),
        "1970",
    ),
    pytest.param(
        ("renew_subscriptions", "--dry-run", "--at", "9999-12-31T23:59:59-23:59"),
        "--at",
    ),
    pytest.param(("renew_subscriptions", "--batch-size", "٣"), "--batch-size"),
]


def command_id(argv: tuple) -> str:
    return " ".join(part if len(part) < 24 else part[:20] + "…" for part in argv) or "empty"


@pytest.mark.parametrize(
    ("argv", "message"),
    [pytest.param(argv, message, id=command_id(argv)) for argv, message in COMMANDS]
    + COMMANDS_EDGES,
)
def test_a_command_refuses_bad_input_with_a_message_and_writes_nothing(
    world, settings, argv, message
):
    settings.DEBUG = True  # seed_demo's own refusal without DEBUG is the next test
    argv = tuple(arg(part, world) for part in argv)
    before = world_state()
    out, err = StringIO(), StringIO()
    try:
        call_command(*argv, stdout=out, stderr=err)
    except CommandError as error:
        text = str(error)
    except Exception as error:  # a traceback is the failure this test looks for
        pytest.fail(f"{argv[0]} ended in {type(error).__name__}: {error}")
    else:
        pytest.fail(f"{argv[0]} accepted {argv[1:]}: {out.getvalue()[-300:]}")
    assert message in text, text
    assert len(text) < 600, "the message repeats an overlong input instead of saying what is wrong"
    assert world_state() == before
    assert mail.outbox == []


def test_seed_demo_with_debug_off_and_no_force_creates_nothing(world, settings):
    settings.DEBUG = False
    before = world_state()
    with pytest.raises(CommandError, match="refuses to run with DEBUG off"):
        call_command("seed_demo", stdout=StringIO())
    assert world_state() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("list_subscriptions", "--account", "٣"), "No account has the name or id '٣'."),
        (("preview_seat_change", "1", "--seats", "7" * 5000), "--seats '7777"),
        (("expire_trials", "--at", ""), "--at '' is not an ISO 8601"),
        (("export_orders", "--since", HUGE), f"--since '{HUGE}' is not an ISO 8601"),
        (("dispatch_pending_emails", "--older-than", "nan"), "--older-than must be a number"),
        (("dispatch_pending_emails", "--limit", HUGE), f"--limit '{HUGE}' is too large."),
        (("renew_subscriptions", "--batch-size", HUGE), f"--batch-size '{HUGE}' is too large."),
    ],
    ids=lambda value: command_id(value) if isinstance(value, tuple) else "",
)
def test_from_a_shell_bad_input_exits_1_with_a_message_and_no_traceback(argv, message):
    result = run_in_shell(*argv)
    assert result.returncode == 1, result.stderr
    assert f"CommandError: {message}" in result.stderr
    assert "Traceback" not in result.stderr
