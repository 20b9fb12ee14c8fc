"""The Orders page fits a phone: nothing wider than the screen, in English and German."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from checkout.models import Order
from subscriptions import clock
from subscriptions.models import Account, Subscription, User
from tests.checkout.helpers import place
from tests.e2e.conftest import DESKTOP, screenshot, sign_in
from tests.shared_fixtures import put_in_cart

pytestmark = pytest.mark.django_db(transaction=True)

SMALL_PHONE = {"width": 360, "height": 740}


@pytest.fixture
def orders(demo):
    """Acme's three orders, placed now: two products in one, a change, a trial bought."""
    account = Account.objects.get(name="Acme GmbH")
    admin = User.objects.get(email="billing.admin@acme.example")
    subscriptions = {
        subscription.plan.product.name: subscription
        for subscription in Subscription.objects.filter(account=account)
    }
    for cart in (
        {"Remote Support v5": 7, "Meeting Rooms": 12},
        {"Remote Support v5": 9},
        {"Remote Access": 25},
    ):
        for product, seats in cart.items():
            put_in_cart(subscriptions[product], seats)
        place(account, admin, at=clock.now())
    return list(Order.objects.filter(account=account).order_by("placed_at"))


@pytest.mark.parametrize("lang", ["en", "de"])
def test_the_orders_page_fits_a_360_px_phone(orders, open_page, lang):
    assert len(orders) == 3
    page = open_page(lang, SMALL_PHONE)
    sign_in(page, "billing.admin@acme.example")
    page.goto("/orders/")
    for order in orders:
        expect(page.get_by_role("link", name=order.number)).to_be_visible()
    screenshot(page, f"orders-phone-{lang}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SMALL_PHONE["width"], f"the Orders page is {width} px wide on a 360 px phone"
    # Every order's number, date and amount is on the screen, none cut off at the edge.
    for cell in page.locator("main table td, main table th").all():
        if cell.is_visible():
            box = cell.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= SMALL_PHONE["width"] + 0.5


@pytest.mark.parametrize("lang", ["en", "de"])
def test_the_orders_page_stays_a_table_on_a_desktop(orders, open_page, lang):
    page = open_page(lang, DESKTOP)
    sign_in(page, "billing.admin@acme.example")
    page.goto("/orders/")
    screenshot(page, f"orders-desktop-{lang}")
    header = page.locator("main table thead")
    expect(header).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(3)
    # One row per order: number, date, changes and total side by side.
    first = rows.first.locator("td")
    tops = {round(first.nth(n).bounding_box()["y"]) for n in range(4)}
    assert len(tops) == 1
