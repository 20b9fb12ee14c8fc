"""Hardening 7: repeated failed sign-ins pause signing in for 15 minutes, and say so.

Five failures for one email address (in any spelling, from any IP address) or from one
IP address lock it; the page says so in the visitor's language; the lockout is logged;
the right password is refused until the cool-off has passed and accepted after it.
"""

from __future__ import annotations

import io
import logging
import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

WRONG = "not-the-password-2026"
LOCKED_EN = (
    "There were too many failed attempts to sign in, so signing in is paused for 15 minutes."
)
LOCKED_DE = (
    "Es gab zu viele fehlgeschlagene Anmeldeversuche, deshalb ist die Anmeldung "
    "für 15 Minuten gesperrt."
)
AFTER = {"en": "Please try again after that.", "de": "Bitte versuchen Sie es danach erneut."}
FORGOT = {"en": "Forgot your password?", "de": "Passwort vergessen?"}
WRONG_PASSWORD_EN = "Please enter a correct email address and password."


def sign_in(client, email: str, password: str, ip: str = "203.0.113.7", **headers):
    return client.post(
        reverse("login"),
        {"username": email, "password": password},
        REMOTE_ADDR=ip,
        **headers,
    )


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def without_csrf_tokens(response) -> str:
    """The page as a visitor compares it: each render carries a fresh CSRF token."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def fail_five_times(client, email: str, **kwargs) -> list:
    return [sign_in(client, email, WRONG, **kwargs) for _ in range(5)]


def test_the_fifth_failure_locks_even_the_right_password_until_the_cool_off_has_passed(
    client, admin, frozen_now
):
    responses = fail_five_times(client, "anna@acme.example")

    assert [r.status_code for r in responses[:4]] == [200] * 4
    assert WRONG_PASSWORD_EN in responses[3].content.decode()
    assert responses[4].status_code == 429
    assert LOCKED_EN in responses[4].content.decode()

    frozen_now.shift(timedelta(minutes=14, seconds=59))
    refused = sign_in(client, "anna@acme.example", PASSWORD)
    assert refused.status_code == 429
    assert LOCKED_EN in refused.content.decode()
    assert not is_signed_in(client)

    frozen_now.shift(timedelta(seconds=2))  # 15 minutes and a second after the last failure
    accepted = sign_in(client, "anna@acme.example", PASSWORD)
    assert accepted.status_code == 302
    assert accepted.url == reverse("billing_center:home")
    assert is_signed_in(client)
    assert client.get(reverse("billing_center:home")).status_code == 200


def test_attempts_during_the_lockout_do_not_extend_it(client, admin, frozen_now):
    fail_five_times(client, "anna@acme.example")
    for _ in range(3):
        frozen_now.shift(timedelta(minutes=5))
        assert sign_in(client, "anna@acme.example", WRONG).status_code == 429

    frozen_now.shift(timedelta(seconds=1))  # 15 minutes after the fifth failure
    assert sign_in(client, "anna@acme.example", PASSWORD).status_code == 302
    assert is_signed_in(client)


def test_the_lockout_page_looks_like_the_portal_and_links_to_password_reset(client, admin):
    page = fail_five_times(client, "anna@acme.example")[-1]
    html = page.content.decode()

    assert page["Content-Type"].startswith("text/html")
    assert "<h1>Signing in is paused</h1>" in html
    assert 'role="alert"' in html
    assert reverse("password_reset") in html
    assert reverse("login") in html
    assert 'name="password"' not in html  # no form to keep guessing with


def test_the_lockout_page_is_in_german_for_a_german_browser(client, admin):
    page = fail_five_times(client, "anna@acme.example", HTTP_ACCEPT_LANGUAGE="de")[-1]
    html = page.content.decode()

    assert page.status_code == 429
    assert "Anmeldung vorübergehend gesperrt" in html
    assert LOCKED_DE in html
    assert "Passwort vergessen?" in html


def test_every_spelling_of_the_address_counts_against_the_same_person(client, admin):
    # From five IP addresses, so only the count for the address can lock.
    spellings = [
        "Anna@ACME.example",
        "ANNA@acme.example",
        " anna@acme.example ",
        "anna@Acme.Example",
        "anna@acme.example",
    ]
    responses = [
        sign_in(client, spelling, WRONG, ip=f"198.51.100.{n + 1}")
        for n, spelling in enumerate(spellings)
    ]

    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429]
    assert sign_in(client, "anna@acme.example", PASSWORD, ip="192.0.2.9").status_code == 429
    assert not is_signed_in(client)


def test_changing_ip_address_does_not_reset_the_count_for_an_address(client, admin):
    for n in range(5):
        last = sign_in(client, "anna@acme.example", WRONG, ip=f"198.51.100.{n + 1}")

    assert last.status_code == 429
    assert sign_in(client, "anna@acme.example", PASSWORD, ip="192.0.2.200").status_code == 429
    assert not is_signed_in(client)


def test_one_ip_address_trying_many_addresses_is_paused_too(client, admin):
    for n in range(5):
        last = sign_in(client, f"guess{n}@acme.example", WRONG, ip="203.0.113.66")

    assert last.status_code == 429
    assert sign_in(client, "anna@acme.example", PASSWORD, ip="203.0.113.66").status_code == 429
    # Anna, elsewhere, is not affected.
    assert sign_in(client, "anna@acme.example", PASSWORD, ip="192.0.2.10").status_code == 302


def test_an_unknown_address_locks_exactly_like_a_known_one(client, admin):
    known = fail_five_times(client, "anna@acme.example", ip="192.0.2.1")
    unknown = fail_five_times(client, "nobody@acme.example", ip="192.0.2.2")

    assert [r.status_code for r in known] == [r.status_code for r in unknown]
    assert without_csrf_tokens(known[-1]) == without_csrf_tokens(unknown[-1])
    assert LOCKED_EN in without_csrf_tokens(unknown[-1])


def test_the_lockout_is_logged_with_address_and_ip_but_never_the_password(client, admin, caplog):
    caplog.set_level(logging.INFO, logger="axes")
    fail_five_times(client, "anna@acme.example", ip="203.0.113.7")

    lockouts = [r for r in caplog.records if "Locking out" in r.getMessage()]
    assert len(lockouts) == 1
    assert lockouts[0].levelno == logging.WARNING
    assert "anna@acme.example" in lockouts[0].getMessage()
    assert "203.0.113.7" in lockouts[0].getMessage()
    assert WRONG not in caplog.text
    stored = AccessAttempt.objects.get()
    assert stored.username == "anna@acme.example"
    assert stored.failures_since_start == 5
    assert WRONG not in stored.post_data


def test_the_admin_sign_in_is_locked_the_same_way(client):
    UserFactory(email="support@example.com", is_staff=True)
    for _ in range(5):
        last = client.post(
            reverse("admin:login"),
            {"username": "support@example.com", "password": WRONG, "next": "/admin/"},
        )
    assert last.status_code == 429
    assert LOCKED_EN in last.content.decode()
    refused = client.post(
        reverse("admin:login"),
        {"username": "support@example.com", "password": PASSWORD, "next": "/admin/"},
    )
    assert refused.status_code == 429
    assert not is_signed_in(client)


def test_a_few_typos_do_not_lock_anyone_out(client, admin):
    for _ in range(4):
        assert sign_in(client, "anna@acme.example", WRONG).status_code == 200
    assert sign_in(client, "anna@acme.example", PASSWORD).status_code == 302
    assert is_signed_in(client)


def test_operations_can_lift_a_pause_early_as_the_readme_says(client, admin):
    fail_five_times(client, "Anna@Acme.example", ip="192.0.2.1")
    assert sign_in(client, "anna@acme.example", PASSWORD, ip="192.0.2.2").status_code == 429

    call_command("axes_reset_username", "anna@acme.example", stdout=io.StringIO())

    assert sign_in(client, "anna@acme.example", PASSWORD, ip="192.0.2.2").status_code == 302


def test_behind_the_https_proxy_each_visitor_counts_by_their_own_address(client, admin, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # BEHIND_HTTPS_PROXY
    proxy = "10.0.0.2"
    # Five colleagues mistype once each: all arrive from the proxy, none is locked out.
    for n in range(5):
        typo = sign_in(
            client,
            f"colleague{n}@acme.example",
            WRONG,
            ip=proxy,
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n + 1}",
        )
        assert typo.status_code == 200
    assert (
        sign_in(
            client, "anna@acme.example", PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.9"
        ).status_code
        == 302
    )

    # One attacker cannot escape the count by making up earlier X-Forwarded-For entries.
    for n in range(5):
        last = sign_in(
            client,
            f"guess{n}@acme.example",
            WRONG,
            ip=proxy,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n + 1}, 203.0.113.66",
        )
    assert last.status_code == 429
    assert AccessAttempt.objects.filter(ip_address="203.0.113.66").count() == 5
