"""End-to-end tests in real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

# Playwright's sync API runs an event loop in this thread; the ORM calls the
# tests make between page steps are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "demo-billing-2026"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def demo(transactional_db):
    """The demo data of `make run`."""
    call_command("seed_demo", force=True, stdout=io.StringIO())


@pytest.fixture
def open_page(browser, live_server):
    """open_page(language, viewport) → a fresh browser page on the live server."""
    contexts = []

    def make(language: str = "en", viewport: dict = DESKTOP, javascript: bool = True):
        context = browser.new_context(
            viewport=viewport,
            locale=language,
            extra_http_headers={"Accept-Language": language},
            java_script_enabled=javascript,
            base_url=live_server.url,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        # What went wrong in the browser shows up in the failing test's output.
        page.on(
            "console", lambda message: print(f"[browser console] {message.type}: {message.text}")
        )
        page.on("pageerror", lambda error: print(f"[browser error] {error}"))
        page.on("requestfailed", lambda request: print(f"[request failed] {request.url}"))
        page.on(
            "response",
            lambda response: (
                response.status >= 400 and print(f"[response] {response.status} {response.url}")
            ),
        )
        return page

    yield make
    for context in contexts:
        context.close()


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()


def screenshot(page, name: str) -> None:
    """Save a picture of the page when SCREENSHOT_DIR is set (to look at, not to assert on)."""
    directory = os.environ.get("SCREENSHOT_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)
