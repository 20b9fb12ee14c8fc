"""The Content-Security-Policy follows STRIPE_JS_URL and STRIPE_API_BASE.

The portal is started in a clean process with the environment a deployment would
give it, and asked for a page: the header a browser gets names where Stripe.js is
loaded from (scripts, its frames) and where it calls the API, and nothing else of
Stripe's when both point elsewhere (a stand-in such as localstripe).
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import ROOT

PROBE = """
import django; django.setup()
from django.test import Client
print(Client(HTTP_ACCEPT_LANGUAGE="en").get("/accounts/login/")["Content-Security-Policy"])
"""


def start(environment: dict[str, str]) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "billing_portal.settings",
        "DEBUG": "1",
        "ALLOWED_HOSTS": "testserver",
        **environment,
    }
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def policy_for(environment: dict[str, str]) -> dict[str, set[str]]:
    result = start(environment)
    assert result.returncode == 0, result.stderr
    header = result.stdout.strip().splitlines()[-1]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = {s for s in sources if not s.startswith("'nonce-")}
    return directives


def test_by_default_stripe_js_comes_from_stripe():
    policy = policy_for({})
    assert policy["script-src"] == {"'self'", "https://js.stripe.com"}
    assert policy["frame-src"] == {"https://js.stripe.com", "https://hooks.stripe.com"}
    assert policy["connect-src"] == {"'self'", "https://api.stripe.com"}


def test_the_policy_follows_stripe_js_url_and_the_api_base():
    policy = policy_for(
        {
            "STRIPE_JS_URL": "http://127.0.0.1:8420/js.stripe.com/v3/",
            "STRIPE_API_BASE": "http://127.0.0.1:8420",
        }
    )
    assert policy["script-src"] == {"'self'", "http://127.0.0.1:8420"}
    assert policy["frame-src"] == {"http://127.0.0.1:8420", "https://hooks.stripe.com"}
    assert policy["connect-src"] == {"'self'", "http://127.0.0.1:8420"}
    assert policy["default-src"] == {"'self'"} and policy["style-src"] == {"'self'"}


def test_stripe_js_and_the_api_may_live_apart():
    policy = policy_for(
        {
            "STRIPE_JS_URL": "https://stripe-js.internal.example/v3/",
            "STRIPE_API_BASE": "https://stripe-proxy.internal.example:8443",
        }
    )
    assert policy["script-src"] == {"'self'", "https://stripe-js.internal.example"}
    assert policy["connect-src"] == {"'self'", "https://stripe-proxy.internal.example:8443"}
    assert "https://js.stripe.com" not in policy["frame-src"]


def test_a_stripe_js_url_without_its_scheme_stops_the_start():
    result = start({"STRIPE_JS_URL": "js.stripe.com/v3/"})
    assert result.returncode != 0
    assert "'js.stripe.com/v3/' is not an absolute http(s) URL." in result.stderr
