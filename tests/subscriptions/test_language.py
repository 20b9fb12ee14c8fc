"""The language switcher sets the page's language and the person's own (for emails)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_signed_in_admin_who_switches_gets_later_emails_in_that_language(client, admin):
    admin.language = "en"
    admin.save(update_fields=["language"])
    client.force_login(admin)
    response = client.post(reverse("set_language"), {"language": "de", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    admin.refresh_from_db()
    assert admin.language == "de"
    assert "Abonnements" in client.get("/").content.decode()


def test_an_unknown_language_changes_nothing(client, admin):
    admin.language = "en"
    admin.save(update_fields=["language"])
    client.force_login(admin)
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    admin.refresh_from_db()
    assert admin.language == "en"


def test_the_sign_in_page_switches_without_an_account(client):
    response = client.post(reverse("set_language"), {"language": "de", "next": "/accounts/login/"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    assert "Anmelden" in client.get("/accounts/login/").content.decode()
