"""The Users page in a real browser: free a license, then reduce to it; invite someone
who accepts."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from checkout.models import Order
from subscriptions.models import Membership, Subscription, User
from tests.e2e.conftest import PHONE, screenshot, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_unassigns_a_license_then_reduces_to_2(demo, open_page):
    remote_support = Subscription.objects.get(
        account__name="Acme GmbH", plan__product__name="Remote Support v5"
    )
    page = open_page("en")
    sign_in(page, "billing.admin@acme.example")
    page.goto(f"/subscriptions/{remote_support.pk}/edit/")
    page.get_by_label("Number of licenses").fill("2")
    page.get_by_role("button", name="Add to cart", exact=True).last.click()
    expect(page.locator("#seats-error")).to_contain_text("Unassign users first to go below 3.")

    # The refusal's link, by keyboard, to the Users page; Agent 3's license is unassigned.
    page.get_by_role("link", name="Unassign licenses on the Users page").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/users/")
    unassign = page.get_by_role(
        "button", name="Unassign Remote Support v5 from agent3@acme.example"
    )
    unassign.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text(
        "The license of Remote Support v5 held by agent3@acme.example is free again."
    )
    expect(page.get_by_test_id("pool").filter(has_text="Remote Support v5")).to_contain_text(
        "2 of 10 licenses assigned"
    )
    screenshot(page, "users-after-unassign")

    page.goto(f"/subscriptions/{remote_support.pk}/edit/")
    page.get_by_label("Number of licenses").fill("2")
    page.get_by_role("button", name="Add to cart", exact=True).last.click()
    page.wait_for_url("**/cart/")
    page.get_by_role("link", name="Checkout").click()
    expect(page.get_by_test_id("licenses")).to_have_text("10 → 2")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url("**/orders/BC-*/")
    remote_support.refresh_from_db()
    assert remote_support.seats == 2 and Order.objects.count() == 1


def test_an_invited_member_accepts_on_a_phone_in_german(demo, open_page):
    page = open_page("de", viewport=PHONE)
    sign_in(page, "billing.admin@acme.example")
    page.goto("/users/")
    page.get_by_label("E-Mail-Adresse").fill("dora@example.org")
    page.get_by_role("button", name="Einladung senden").click()
    expect(page.get_by_role("status")).to_contain_text("Einladung an dora@example.org gesendet.")

    (message,) = [m for m in mail.outbox if m.to == ["dora@example.org"]]
    assert "Sie sind eingeladen, Acme GmbH im Billing Center beizutreten" in message.subject
    path = re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", message.body).group(1)

    newcomer = open_page("de", viewport=PHONE)
    newcomer.goto(path)
    expect(newcomer.get_by_role("heading", level=1)).to_have_text("Acme GmbH beitreten")
    newcomer.get_by_label("Ihr Name").fill("Dora Diaz")
    newcomer.get_by_label("Passwort", exact=True).fill("a-long-passphrase-9")
    newcomer.get_by_label("Passwort wiederholen").fill("a-long-passphrase-9")
    newcomer.get_by_role("button", name="Einladung annehmen").click()
    expect(newcomer.get_by_role("status")).to_have_text("Willkommen bei Acme GmbH.")
    dora = User.objects.get(email="dora@example.org")
    assert Membership.objects.get(user=dora).role == "member"
    assert dora.language == "de"  # the page she accepted on spoke German

    newcomer.goto(path)  # the link is used up
    expect(newcomer.get_by_role("heading", level=1)).to_have_text(
        "Diese Einladung wurde bereits verwendet"
    )
    page.goto("/users/")
    expect(page.get_by_test_id("member").filter(has_text="dora@example.org")).to_contain_text(
        "Mitglied"
    )
