"""The billing profile: the billing admin sets the invoice name, address, VAT number and
extra recipients; support does the same in the admin; the country stays with support."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from renewals.run import subscriptions_renew
from subscriptions.models import Account, AuditEntry
from tests.checkout.helpers import place
from tests.factories import UserFactory
from tests.pages import shown
from tests.shared_fixtures import put_in_cart

pytestmark = pytest.mark.django_db

URL = "/billing-profile/"

PROFILE = {
    "legal_name": "Acme Gesellschaft mit beschränkter Haftung",
    "address_line1": "Friedrichstraße 123",
    "address_line2": "",
    "postal_code": "10117",
    "city": "Berlin",
    "vat_number": "DE 136 695 976",
    "invoice_recipients": "Books@Acme.example\ninvoices@tax-advisor.example",
}


@pytest.fixture
def signed_in(client, admin):
    client.force_login(admin)
    return client


def test_the_url_is_the_billing_profile():
    assert reverse("billing_center:billing_profile") == URL


def test_the_profile_saves_and_writes_activity(signed_in, admin, account):
    response = signed_in.post(URL, {**PROFILE, "country": "FR"}, follow=True)
    assert "Billing profile saved." in response.content.decode()
    account.refresh_from_db()
    assert account.legal_name == PROFILE["legal_name"]
    assert (account.address_line1, account.postal_code, account.city) == (
        "Friedrichstraße 123",
        "10117",
        "Berlin",
    )
    assert account.vat_number == "DE136695976"
    assert account.invoice_recipients == ["books@acme.example", "invoices@tax-advisor.example"]
    assert account.country == "DE"  # not a field of the form: support changes it
    entries = {e.action: e for e in AuditEntry.objects.filter(account=account)}
    assert set(entries) == {
        "billing_address_changed",
        "vat_number_changed",
        "invoice_recipients_changed",
    }
    vat = entries["vat_number_changed"]
    assert (vat.channel, vat.actor, vat.before, vat.after) == (
        "portal",
        admin,
        {"vat_number": ""},
        {"vat_number": "DE136695976"},
    )
    assert entries["billing_address_changed"].after["city"] == "Berlin"
    page = response.content.decode()
    assert 'value="DE136695976"' in page and "Friedrichstraße 123" in page

    # Saving the same again changes nothing and writes nothing.
    signed_in.post(URL, PROFILE)
    assert AuditEntry.objects.filter(account=account).count() == 3


def test_the_country_is_shown_but_not_editable(signed_in, account):
    page = signed_in.get(URL).content.decode()
    assert shown(page, "country") == "Germany"
    assert 'name="country"' not in page
    assert "only our support team can change it" in page


def test_a_bad_vat_number_is_refused_and_nothing_changes(signed_in, account):
    response = signed_in.post(URL, {**PROFILE, "vat_number": "DE 123"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "This is not a valid VAT number for DE. Check the country prefix and the digits." in page
    assert 'aria-invalid="true"' in page
    account.refresh_from_db()
    assert (account.vat_number, account.city, account.invoice_recipients) == ("", "", [])
    assert not AuditEntry.objects.filter(account=account).exists()


def test_an_address_without_street_postal_code_or_city_is_refused(signed_in, account):
    response = signed_in.post(URL, {**PROFILE, "address_line1": " ", "postal_code": "", "city": ""})
    assert response.status_code == 400
    assert response.content.decode().count("This field is required.") == 3
    account.refresh_from_db()
    assert (account.address_line1, account.city, account.vat_number) == ("", "", "")
    assert not AuditEntry.objects.filter(account=account).exists()


def test_a_vat_number_of_another_country_is_refused(signed_in, account):
    response = signed_in.post(URL, {**PROFILE, "vat_number": "FR40303265045"})
    assert response.status_code == 400
    assert "not a valid VAT number for DE" in response.content.decode()


def test_the_vat_number_can_be_removed(signed_in, account):
    Account.objects.filter(pk=account.pk).update(vat_number="DE136695976")
    signed_in.post(URL, {**PROFILE, "vat_number": "  "})
    account.refresh_from_db()
    assert account.vat_number == ""
    removed = AuditEntry.objects.get(account=account, action="vat_number_changed")
    assert (removed.before, removed.after) == ({"vat_number": "DE136695976"}, {"vat_number": ""})


@pytest.mark.parametrize(
    ("recipients", "message"),
    [
        ("books@acme.example\nnot-an-address", "not-an-address is not an email address."),
        ("\n".join(f"r{n}@acme.example" for n in range(6)), "Enter at most 5 addresses."),
    ],
)
def test_bad_recipients_are_refused(signed_in, account, recipients, message):
    response = signed_in.post(URL, {**PROFILE, "invoice_recipients": recipients})
    assert response.status_code == 400
    assert message in response.content.decode()
    account.refresh_from_db()
    assert account.invoice_recipients == [] and account.vat_number == ""


def test_the_page_is_german_for_a_german_reader(signed_in, account):
    signed_in.cookies["django_language"] = "de"
    page = signed_in.get(URL).content.decode()
    assert "Rechnungsprofil" in page and shown(page, "country") == "Deutschland"
    response = signed_in.post(URL, {**PROFILE, "vat_number": "DE 123"})
    assert response.status_code == 400
    assert (
        "Das ist keine gültige Mehrwertsteuernummer für DE. Prüfen Sie das Länderpräfix "
        "und die Ziffern."
    ) in response.content.decode()


def test_a_member_cannot_open_it(client, account):
    from tests.factories import MembershipFactory

    member = MembershipFactory(account=account, role="member").user
    client.force_login(member)
    assert client.get(URL).status_code == 403


def test_the_billing_center_shows_where_invoices_go(signed_in, account):
    signed_in.post(URL, PROFILE)
    page = signed_in.get(reverse("billing_center:home")).content.decode()
    assert f"{PROFILE['legal_name']}, Berlin" in page
    assert f'href="{URL}"' in page


def test_extra_recipients_receive_the_order_confirmation(
    frozen_now, admin, account, remote_support, django_capture_on_commit_callbacks
):
    Account.objects.filter(pk=account.pk).update(
        invoice_recipients=["books@acme.example", "anna@acme.example"]
    )
    account.refresh_from_db()
    put_in_cart(remote_support, 7)
    with django_capture_on_commit_callbacks(execute=True):
        order = place(account, admin)
    [message] = mail.outbox
    assert message.to == ["anna@acme.example"]
    assert message.cc == ["books@acme.example"]  # the admin is not copied twice
    assert order.number in message.subject


def test_extra_recipients_receive_the_renewal_confirmation(
    account, remote_support, django_capture_on_commit_callbacks
):
    Account.objects.filter(pk=account.pk).update(invoice_recipients=["books@acme.example"])
    at = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=1)
    with time_machine.travel(at, tick=False), django_capture_on_commit_callbacks(execute=True):
        subscriptions_renew(at=at)
    [message] = mail.outbox
    assert message.cc == ["books@acme.example"]
    assert "RN-20261201" in message.subject


@pytest.fixture
def support(client, db):
    user = UserFactory(email="support@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    client.force_login(user)
    return user


def support_edit(client, account, **fields):
    return client.post(
        reverse("admin:subscriptions_account_changelist"),
        {
            "action": "support_billingprofileform",
            "index": "0",
            "_selected_action": [str(account.pk)],
            **{**PROFILE, **fields},
            "confirm": "1",
        },
        follow=True,
    )


def test_support_edits_the_profile_with_a_reason(client, support, account):
    page = support_edit(client, account, reason="ticket 4711").content.decode()
    assert "The billing profile of Acme GmbH is saved." in page
    account.refresh_from_db()
    assert account.city == "Berlin" and account.vat_number == "DE136695976"
    entry = AuditEntry.objects.get(account=account, action="vat_number_changed")
    assert (entry.channel, entry.actor, entry.reason) == ("admin", support, "ticket 4711")
    change_page = client.get(
        reverse("admin:subscriptions_account_change", args=[account.pk])
    ).content.decode()
    assert "Friedrichstraße 123" in change_page and 'name="city"' not in change_page


def test_support_without_a_reason_or_with_a_bad_vat_number_changes_nothing(
    client, support, account
):
    assert "This field is required" in support_edit(client, account).content.decode()
    page = support_edit(client, account, vat_number="DE 123", reason="ticket").content.decode()
    assert "not a valid VAT number for DE" in page
    account.refresh_from_db()
    assert (account.city, account.vat_number) == ("", "")
    assert not AuditEntry.objects.filter(account=account).exists()


def test_the_service_checks_the_vat_number_against_the_country_it_locked(admin, account):
    """Support moved the account to France while the form was open: nothing is saved."""
    from subscriptions.billing_profile import BillingAddress, account_billing_profile_update

    Account.objects.filter(pk=account.pk).update(country="FR")
    with pytest.raises(ValidationError) as refused:
        account_billing_profile_update(
            account=account,
            address=BillingAddress(city="Berlin"),
            vat_number="DE136695976",
            invoice_recipients=[],
            actor=admin,
        )
    assert "the account is in FR" in refused.value.message_dict["vat_number"][0]
    account.refresh_from_db()
    assert (account.city, account.vat_number) == ("", "")
    assert not AuditEntry.objects.filter(account=account).exists()


def test_support_must_give_a_reason_in_the_service(admin, account):
    from subscriptions.activity import Channel
    from subscriptions.billing_profile import BillingAddress, account_billing_profile_update

    with pytest.raises(ValidationError, match="A reason is required"):
        account_billing_profile_update(
            account=account,
            address=BillingAddress(),
            vat_number="",
            invoice_recipients=[],
            actor=admin,
            channel=Channel.ADMIN,
        )
