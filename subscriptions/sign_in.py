"""Sign-in lockout (django-axes): who the failed attempts are counted for.

Settings (billing_portal/settings.py, "Sign-in lockout") name these two; the
limits themselves are settings, the page is templates/registration/locked_out.html.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest


def sign_in_email(request: HttpRequest | None, credentials: dict | None) -> str | None:
    """The address the failures count against, as sign-in matches it: trimmed, any case.

    Sign-in finds the user by email ignoring case, so `Anna@ACME.example` and
    `anna@acme.example` are the same person and share one count; otherwise each
    spelling would get its own five attempts.
    """
    typed = (credentials or {}).get("username")
    if typed is None and request is not None:
        typed = getattr(request, "POST", {}).get("username")
    if not isinstance(typed, str) or not typed.strip():
        return None
    return typed.strip().lower()


def sign_in_ip(request: HttpRequest) -> str | None:
    """The visitor's IP address the failures count against.

    Behind the HTTPS proxy (BEHIND_HTTPS_PROXY) every request comes from the proxy's
    address, so counting REMOTE_ADDR would lock everyone out together after five
    failures. There the proxy's own entry counts: the last one of X-Forwarded-For,
    which it appends; earlier entries are whatever the client sent and are ignored.
    """
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = [
            entry.strip()
            for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if entry.strip()
        ]
        if forwarded:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR")


class SignInLockoutBackend(AxesStandaloneBackend):
    """Refuses a locked-out address before its password is checked.

    Every sign-in over HTTP (the portal's form, the admin's) passes its request
    and is counted. Code that checks a password without a request (the shell,
    tests) cannot be used to guess passwords from outside, so it is let through
    to the next backend instead of failing with axes' "request required" error.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
