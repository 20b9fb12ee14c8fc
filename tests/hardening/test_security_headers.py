"""Hardening 13: what a browser is told about every page in production.

The production values are not copied here: they are read from the settings loaded in a
clean process with a production environment (DEBUG off, a real key), then applied to
the test client's requests. Every page carries a Content-Security-Policy with no inline
scripts or styles allowed, HSTS, X-Frame-Options DENY, a referrer policy and nosniff;
the session and CSRF cookies are Secure and SameSite=Lax, the session cookie HttpOnly.
The pages themselves contain nothing that policy would block.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory
from tests.helpers import ROOT
from tests.shared_fixtures import put_in_cart

pytestmark = pytest.mark.django_db

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "billing.example.com",
}
SECURITY_SETTINGS = [
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_SAMESITE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "X_FRAME_OPTIONS",
]
EXPECTED_POLICY = {
    "default-src": {"'self'"},
    "script-src": {"'self'", "https://js.stripe.com"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "connect-src": {"'self'", "https://api.stripe.com"},
    "frame-src": {"https://js.stripe.com", "https://hooks.stripe.com"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}


def production_settings(extra_env: dict[str, str] | None = None) -> dict:
    """The security settings as billing_portal/settings.py makes them for production."""
    probe = (
        "import json, django; django.setup()\n"
        "from django.conf import settings\n"
        f"print(json.dumps({{name: getattr(settings, name) for name in {SECURITY_SETTINGS!r}}}))"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "billing_portal.settings",
        **PRODUCTION_ENV,
        **(extra_env or {}),
    }
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    if loaded["SECURE_PROXY_SSL_HEADER"] is not None:
        loaded["SECURE_PROXY_SSL_HEADER"] = tuple(loaded["SECURE_PROXY_SSL_HEADER"])
    return loaded


@pytest.fixture(scope="module")
def production_values() -> dict:
    return production_settings()


@pytest.fixture
def production(settings, production_values):
    """The test client's requests run with production's security settings."""
    for name, value in production_values.items():
        setattr(settings, name, value)
    return production_values


def https_client() -> Client:
    """A fresh client (middleware reads its settings when it is first used)."""
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def policy_of(response) -> dict[str, set[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = set(sources)
    return directives


def assert_security_headers(response, hsts: str | None) -> None:
    policy = policy_of(response)
    nonces = {s for s in policy.get("script-src", ()) if s.startswith("'nonce-")}
    assert {k: v - nonces for k, v in policy.items()} == EXPECTED_POLICY, response.request
    if hsts is None:
        assert "Strict-Transport-Security" not in response
    else:
        assert response["Strict-Transport-Security"] == hsts
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] in {"same-origin", "strict-origin-when-cross-origin"}
    assert response["X-Content-Type-Options"] == "nosniff"


class InlineCode(HTMLParser):
    """Collects what a policy without 'unsafe-inline' would block in a page."""

    DATA_TYPES = {"application/json", "application/ld+json"}

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []
        self.nonces: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name == "style":
                self.blocked.append(f'<{tag} style="{value}">')
            if name.startswith("on"):
                self.blocked.append(f"<{tag} {name}=...>")
            if name in {"href", "src", "action", "formaction"} and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.blocked.append(f"<{tag} {name}={value}>")
        if tag == "style":
            self.blocked.append("<style> element")
        if tag == "script" and not attributes.get("src"):
            if attributes.get("type") in self.DATA_TYPES:
                return
            if attributes.get("nonce"):
                self.nonces.add(attributes["nonce"])
            else:
                self.blocked.append("inline <script> without a nonce")


def assert_nothing_inline_is_blocked(response) -> None:
    parser = InlineCode()
    parser.feed(response.content.decode())
    assert parser.blocked == [], response.request["PATH_INFO"]
    header_nonces = {
        s[len("'nonce-") : -1] for s in policy_of(response)["script-src"] if s.startswith("'nonce-")
    }
    assert parser.nonces <= header_nonces


@pytest.fixture
def superuser(db):
    return UserFactory(email="ops@example.com", is_staff=True, is_superuser=True)


def portal_pages(admin, remote_support, superuser) -> dict[str, tuple]:
    """Each page a billing admin, support or ops opens: (who is signed in, URL)."""
    put_in_cart(remote_support, 12)
    return {
        "sign in": (None, reverse("login")),
        "password reset": (None, reverse("password_reset")),
        "billing center": (admin, reverse("billing_center:home")),
        "edit subscription": (admin, reverse("billing_center:edit", args=[remote_support.pk])),
        "cart": (admin, reverse("checkout:cart")),
        "checkout review": (admin, reverse("checkout:review")),
        "payment method": (admin, reverse("payments:payment_method")),
        "orders": (admin, reverse("checkout:orders")),
        "not found": (admin, "/no-such-page/"),
        "admin index": (superuser, reverse("admin:index")),
        "admin account list": (superuser, reverse("admin:subscriptions_account_changelist")),
        "admin account page": (
            superuser,
            reverse("admin:subscriptions_account_change", args=[remote_support.account_id]),
        ),
        "admin subscription list": (
            superuser,
            reverse("admin:subscriptions_subscription_changelist"),
        ),
    }


def test_production_settings_turn_every_protection_on(production_values):
    assert production_values["SESSION_COOKIE_SECURE"] is True
    assert production_values["CSRF_COOKIE_SECURE"] is True
    assert production_values["SESSION_COOKIE_HTTPONLY"] is True
    assert production_values["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert production_values["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert production_values["SECURE_SSL_REDIRECT"] is True
    assert production_values["SECURE_HSTS_SECONDS"] >= 31536000
    assert production_values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert production_values["SECURE_PROXY_SSL_HEADER"] is None  # trusted only when told


def test_every_page_carries_the_security_headers_and_nothing_the_policy_blocks(
    production, frozen_now, admin, remote_support, superuser
):
    hsts = "max-age=31536000; includeSubDomains; preload"
    for name, (user, url) in portal_pages(admin, remote_support, superuser).items():
        client = https_client()
        if user is not None:
            client.force_login(user)
        response = client.get(url, secure=True)
        assert response.status_code == (404 if name == "not found" else 200), name
        assert_security_headers(response, hsts=hsts)
        assert_nothing_inline_is_blocked(response)


def test_the_lockout_page_carries_the_headers_too(production, admin):
    client = https_client()
    for _ in range(5):
        page = client.post(
            reverse("login"), {"username": admin.email, "password": "wrong"}, secure=True
        )
    assert page.status_code == 429
    assert_security_headers(page, hsts="max-age=31536000; includeSubDomains; preload")
    assert_nothing_inline_is_blocked(page)


def test_plain_http_is_sent_to_https(production):
    response = Client().get(reverse("login"))
    assert response.status_code == 301
    assert response["Location"] == "https://testserver" + reverse("login")


def test_behind_an_https_proxy_its_header_counts_and_only_then(settings):
    for name, value in production_settings({"BEHIND_HTTPS_PROXY": "1"}).items():
        setattr(settings, name, value)

    proxied = Client().get(reverse("login"), HTTP_X_FORWARDED_PROTO="https")
    assert proxied.status_code == 200
    assert proxied["Strict-Transport-Security"].startswith("max-age=31536000")
    assert Client().get(reverse("login")).status_code == 301


def test_cookies_are_secure_httponly_and_same_site_in_production(production, admin):
    client = https_client()
    form = client.get(reverse("login"), secure=True)
    csrf = form.cookies["csrftoken"]
    assert csrf["secure"] is True
    assert csrf["samesite"] == "Lax"

    signed_in = client.post(
        reverse("login"), {"username": admin.email, "password": PASSWORD}, secure=True
    )
    assert signed_in.status_code == 302
    session = signed_in.cookies["sessionid"]
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"


def test_no_template_a_browser_is_served_has_inline_script_style_or_handlers():
    """Covers the branches the pages above do not render (Stripe.js card entry, 3-D
    Secure, the 500 page). Email templates are left out: email clients need inline
    styles, and no browser loads them under this policy."""
    offending = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        relative = path.relative_to(ROOT / "templates").as_posix()
        if "/email/" in f"/{relative}":  # every app's email templates
            continue
        # Template tags are not HTML: each becomes a plain word before parsing.
        source = re.sub(r"{%.*?%}|{{.*?}}", "tag", path.read_text(), flags=re.S)
        parser = InlineCode()
        parser.feed(source)
        offending += [f"{relative}: {what}" for what in parser.blocked]
    assert offending == []
