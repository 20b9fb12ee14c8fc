"""The edit page's "Unassign users first" refusal links to the Users page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

LINK = f'<a href="{reverse("members:users")}" data-testid="users-link">'


def test_the_refusal_next_to_the_field_links_the_users_page(signed_in, remote_support):
    url = reverse("billing_center:edit", args=[remote_support.pk])
    page = signed_in.post(url, {"seats": "2", "add": "1"}).content.decode()
    error = re.search(
        r'id="seats-error"[^>]*>(.*?)</p>\s*<p class="users-link">(.*?)</p>', page, re.S
    )
    assert "Unassign users first to go below 3." in error.group(1)
    assert LINK in error.group(2) and "Unassign licenses on the Users page" in error.group(2)


def test_the_live_preview_links_it_too_and_only_for_that_refusal(signed_in, remote_support):
    url = reverse("billing_center:preview", args=[remote_support.pk])
    below = signed_in.get(url, {"seats": "2"}).content.decode()
    assert "Unassign users first to go below 3." in below and LINK in below
    above_max = signed_in.get(url, {"seats": "5000"}).content.decode()
    assert "at most" in above_max and LINK not in above_max


def test_the_link_speaks_german(signed_in, remote_support):
    url = reverse("billing_center:preview", args=[remote_support.pk])
    page = signed_in.get(url, {"seats": "2"}, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Lizenzen auf der Seite „Benutzer“ freigeben" in page
