"""Issue #13, section 2, item 5: the Django admin takes what staff type as the portal does.

The superuser's "Add account" page answers and adds an account; number fields (money,
licenses, days) read ASCII digits only; an action posted with a selection that is not
rows of the list answers with a message and changes nothing.
"""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from moneyed import Money

from subscriptions.credit import credit_balance
from subscriptions.models import Account, AuditEntry, CreditLedgerEntry, Plan, Product, TaxRate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Digits Python's int() and Decimal() read but the portal does not.
NOT_ASCII = {
    "Arabic-Indic three": "٣",
    "full-width three": "３",
    "Devanagari three": "३",
    "Arabic-Indic 25.00": "٢٥.٠٠",
    "an exponent": "3e0",
}


class FormFields(HTMLParser):
    """The values a browser would post for the admin's main form, as the page shows them."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "checkbox"):
            self.values[name] = attrs.get("value") or ""
        elif tag == "input" and name and "checked" in attrs:
            self.values[name] = attrs.get("value") or "on"
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def form_values(page: str) -> dict[str, str]:
    parser = FormFields()
    parser.feed(page)
    parser.values.pop("csrfmiddlewaretoken", None)
    return {name: value for name, value in parser.values.items() if "__prefix__" not in name}


def messages_on(page: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", text).strip()
        for text in re.findall(r'<li class="(?:error|warning|success|info)">(.*?)</li>', page, re.S)
    ]


@pytest.fixture
def superuser(client):
    user = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


@pytest.fixture
def support(client):
    user = UserFactory(email="support@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    client.force_login(user)
    return user


def post_action(client, model: str, action: str, selected: list[str], **data):
    return client.post(
        reverse(f"admin:{model}_changelist"),
        {"action": action, "index": "0", "_selected_action": selected, **data},
        follow=True,
    )


CREDIT = "support_creditform"
SEATS = "support_seatchangeform"
TRIAL = "support_trialform"


# -- Add account ---------------------------------------------------------------------------


def test_the_superuser_adds_an_account_through_the_admin(client, superuser):
    add = reverse("admin:subscriptions_account_add")
    page = client.get(add)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="currency"' in body  # chosen once, when the account is added
    data = form_values(body)
    data.update(
        name="Neukunde GmbH", country="DE", currency="EUR", time_zone="Europe/Berlin", _save="1"
    )
    response = client.post(add, data, follow=True)
    assert response.status_code == 200
    assert "was added successfully" in response.content.decode()
    account = Account.objects.get(name="Neukunde GmbH")
    assert (account.country, account.currency, account.time_zone) == ("DE", "EUR", "Europe/Berlin")
    assert credit_balance(account) == Money("0.00", "EUR")
    # Once added, the currency is fixed and the balance shown.
    change = client.get(reverse("admin:subscriptions_account_change", args=[account.pk]))
    shown = change.content.decode()
    assert change.status_code == 200
    assert 'name="currency"' not in shown
    assert '<div class="readonly">€\xa00.00</div>' in shown


# -- ASCII digits ----------------------------------------------------------------------------


@pytest.mark.parametrize("typed", list(NOT_ASCII.values()), ids=list(NOT_ASCII))
def test_the_credit_action_takes_ascii_digits_only(client, support, account, typed):
    response = post_action(
        client, "subscriptions_account", CREDIT, [str(account.pk)],
        kind="goodwill", amount=typed, reason="goodwill", confirm="1",
    )  # fmt: skip
    assert response.status_code == 200
    assert "Enter an amount such as 25.00." in response.content.decode()
    assert not CreditLedgerEntry.objects.exists()
    assert not AuditEntry.objects.exists()
    assert credit_balance(account) == Money("0.00", "EUR")


def test_the_credit_action_still_takes_a_plain_amount(client, support, account):
    response = post_action(
        client, "subscriptions_account", CREDIT, [str(account.pk)],
        kind="goodwill", amount=" 3.00 ", reason="goodwill", confirm="1",
    )  # fmt: skip
    shown = messages_on(response.content.decode())
    assert shown == [
        "Ledger entry added. Acme GmbH now has € 3.00."
    ]  # the messages, spaces collapsed
    assert credit_balance(account) == Money("3.00", "EUR")


@pytest.mark.parametrize(
    "typed", ["٧", "７", "7.0", "7e0"], ids=["arabic", "full-width", "7.0", "7e0"]
)
def test_the_seat_change_action_takes_ascii_digits_only(
    frozen_now, client, support, remote_support, typed
):
    response = post_action(
        client, "subscriptions_subscription", SEATS, [str(remote_support.pk)],
        seats=typed, reason="customer called", preview="1",
    )  # fmt: skip
    body = response.content.decode()
    assert "Enter a whole number." in body
    assert "10 → 7" not in body and 'name="preview_token" value="' not in body
    remote_support.refresh_from_db()
    assert remote_support.seats == 10


def test_the_trial_action_takes_ascii_digits_only(client, support, account):
    from datetime import UTC, datetime

    from tests.factories import SubscriptionFactory

    ends = datetime(2026, 11, 1, tzinfo=UTC)
    trial = SubscriptionFactory(account=account, status="expired", seats=0, trial_end=ends)
    response = post_action(
        client, "subscriptions_subscription", TRIAL, [str(trial.pk)],
        days="١٤", reason="sales", confirm="1",
    )  # fmt: skip
    assert "Enter a whole number." in response.content.decode()
    trial.refresh_from_db()
    assert (trial.status, trial.trial_end) == ("expired", ends)


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("price_0", "٤٢.00", "Enter a number."),
        ("min_seats", "١", "Enter a whole number."),
        ("max_seats", "５0", "Enter a whole number."),
        ("trial_days", "٣0", "Enter a whole number."),
    ],
)
def test_the_plan_form_takes_ascii_digits_only(
    client, superuser, remote_support, field, typed, message
):
    plan = remote_support.plan
    before = Plan.objects.filter(pk=plan.pk).values().get()
    url = reverse("admin:subscriptions_plan_change", args=[plan.pk])
    data = form_values(client.get(url).content.decode())
    assert field in data
    data.update({field: typed, "_save": "1"})
    response = client.post(url, data)
    assert response.status_code == 200  # the form again, not a redirect
    assert message in response.content.decode()
    assert Plan.objects.filter(pk=plan.pk).values().get() == before


def test_the_plan_form_still_saves_plain_digits(client, superuser, remote_support):
    plan = remote_support.plan
    url = reverse("admin:subscriptions_plan_change", args=[plan.pk])
    data = form_values(client.get(url).content.decode())
    data.update({"price_0": "45.00", "max_seats": "500", "_save": "1"})
    assert client.post(url, data).status_code == 302
    plan.refresh_from_db()
    assert (plan.price, plan.max_seats) == (Money("45.00", "EUR"), 500)


# -- Malformed selections --------------------------------------------------------------------

NOT_ROWS = "The selection is not a list of rows from this page; nothing was changed."

MALFORMED_SELECTIONS = {
    "text": ["abc"],
    "empty": [""],
    "blank": [" "],
    "Arabic-Indic digits": ["٣"],
    "beyond a bigint": ["9" * 30],
    "negative beyond a bigint": ["-" + "9" * 30],
    "a fraction": ["1.5"],
    "a good id and text": ["{pk}", "abc"],
}


@pytest.mark.parametrize("selection", list(MALFORMED_SELECTIONS))
def test_a_support_action_with_a_malformed_selection_answers_with_a_message(
    client, support, account, selection
):
    selected = [value.format(pk=account.pk) for value in MALFORMED_SELECTIONS[selection]]
    response = post_action(
        client, "subscriptions_account", CREDIT, selected,
        kind="goodwill", amount="25.00", reason="goodwill", confirm="1",
    )  # fmt: skip
    assert response.status_code == 200
    assert NOT_ROWS in messages_on(response.content.decode())
    assert not CreditLedgerEntry.objects.exists() and not AuditEntry.objects.exists()


def test_a_support_action_on_a_row_that_is_gone_says_so(client, support, account):
    gone = Account.objects.order_by("-pk").first().pk + 1000
    for selected in ([str(gone)], [str(account.pk), str(gone)]):
        response = post_action(
            client, "subscriptions_account", CREDIT, selected,
            kind="goodwill", amount="25.00", reason="goodwill", confirm="1",
        )  # fmt: skip
        assert response.status_code == 200
        assert (
            f"1 of the {len(selected)} selected rows no longer exist or are not in this list; "
            "nothing was changed. Choose the rows again."
        ) in messages_on(response.content.decode())
    assert not CreditLedgerEntry.objects.exists()


@pytest.mark.parametrize("model", ["subscriptions_product", "auth_group"])
@pytest.mark.parametrize("selection", ["abc", "", "9" * 30])
def test_delete_selected_with_a_malformed_selection_deletes_nothing(
    client, superuser, remote_support, model, selection
):
    """Django's own action, and on a model the portal did not register itself."""
    product = remote_support.plan.product
    group = Group.objects.get(name="Support")
    response = post_action(client, model, "delete_selected", [selection], post="yes")
    assert response.status_code == 200
    assert NOT_ROWS in messages_on(response.content.decode())
    assert Product.objects.filter(pk=product.pk).exists()
    assert Group.objects.filter(pk=group.pk).exists()


def test_every_admin_refuses_a_malformed_selection(client, rf, superuser, remote_support):
    """The portal's own admins, Django's and django-axes' alike: one registered without
    the portal's base class would answer with a 500 here. (An admin without actions,
    such as the read-only history, takes no action posts at all.)"""
    request = rf.get("/")
    request.user = superuser
    with_actions = []
    for model, model_admin in admin.site._registry.items():
        if not model_admin.get_actions(request):
            continue
        changelist = f"{model._meta.app_label}_{model._meta.model_name}"
        response = post_action(client, changelist, "delete_selected", ["abc"], post="yes")
        assert response.status_code == 200, changelist
        assert NOT_ROWS in messages_on(response.content.decode()), changelist
        with_actions.append(changelist)
    assert {
        "auth_group",
        "axes_accessattempt",
        "axes_accesslog",
        "subscriptions_user",
        "subscriptions_account",
        "subscriptions_subscription",
        "checkout_order",
    } <= set(with_actions)
    assert Group.objects.filter(name="Support").exists()


@pytest.mark.parametrize("typed", ["١٩", "２0.00", "2e1"], ids=["arabic", "full-width", "2e1"])
def test_the_tax_rate_form_takes_ascii_digits_only(client, superuser, typed):
    rate, _ = TaxRate.objects.update_or_create(country="DE", defaults={"rate": Decimal("19.00")})
    url = reverse("admin:subscriptions_taxrate_change", args=[rate.pk])
    data = form_values(client.get(url).content.decode())
    data.update(rate=typed, _save="1")
    response = client.post(url, data)
    assert response.status_code == 200  # the form again, not a redirect
    assert "Enter a number." in response.content.decode()
    rate.refresh_from_db()
    assert rate.rate == Decimal("19.00")


def test_the_tax_rate_form_still_saves_plain_digits(client, superuser):
    rate, _ = TaxRate.objects.update_or_create(country="DE", defaults={"rate": Decimal("19.00")})
    url = reverse("admin:subscriptions_taxrate_change", args=[rate.pk])
    data = form_values(client.get(url).content.decode())
    data.update(rate=" 20.50 ", _save="1")
    assert client.post(url, data).status_code == 302
    rate.refresh_from_db()
    assert rate.rate == Decimal("20.50")
